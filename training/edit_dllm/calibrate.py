"""Per-task calibration of EDIT's (delta, Omega) and certificate constants (App. B.1 + C.6).

    calibrate(bundle_dir, forward, val_sets, *, check=None, n_val=None, batch_size=64, write=True) -> dict
        forward: ids [B,S] -> (logits, {module: act})   (sampler.TorchForward / export.OnnxForward)
        val_sets: {task: [tasks.Item, ...]} (the val split); check(task, item, text) -> bool
        (default: edit_dllm.tasks.get_task(task).check(item, text)).
    Rewrites bundle.json tasks[*].stop = {"rule": "edit", "params": {...}} and tasks[*].certificates
    = {"alphaHat", "q", "beta"}; returns the calibration record (per-task grids, choices, checks).

Selection (App. B.1): tau = 1.0; delta in {0.025, 0.05, 0.1, 0.25, 0.45, 0.55}; Omega in
{2, 3, 4, 6, 8, 10, 12} (< 16 = steps per block), chosen SEPARATELY for the first block
(deltaFirst, omegaFirst) and the later blocks (deltaLater, omegaLater): every combination is scored.
Score = accuracy / average forwards per generation; the best score among combinations whose accuracy
is >= full-steps accuracy - 1 point (else: within 1 point of the best reachable accuracy); ties -> higher accuracy -> fewer
forwards -> grid order. Then polishSteps in {0, 2} is chosen by the same rule from real runs of the chosen thresholds.

Cheap grid: within a block a stop only truncates the trajectory (polish 0: the stop forward's argmax
fills the block), so one full-budget run per (item, block prefix) gives every (delta, Omega)'s stop
step and block content. A later block's trajectory depends on the earlier blocks' content, so it is
replayed once per DISTINCT earlier content that some combination produces (batched), and
memoised. The real polish-0 run of the chosen setting is compared with the simulation ("simCheck").

Certificate constants (App. C.6):
- alpha-hat (Eq 23), "late" defined as: a triple of steps (r-1, r, r+1) of a full-budget block
  trajectory with r-1 > T_b/2 (the second half of the block) and r+1 <= T_b. Visible sets only grow,
  so S_{r-1} is common to the three steps; P~(x) = softmax(Sim^(x)/tau) restricted to S_{r-1} and
  renormalised (needs |S_{r-1}| >= 2). ratio = TV(P~(r+1), P~(r)) / TV(P~(r), P~(r-1)), skipped when
  the denominator is < 1e-6. alpha-hat = max over val items, blocks and late r, clipped to <= 0.99
  (Assumption 3 needs alpha < 1; the unclipped max and quantiles are kept in the record).
- q: the margin m_t at the chosen setting's EDIT stops on val exceeded by a fraction 1 - beta of them
  (numpy quantile at beta, beta = 0.1): Cor 6's "with probability >= 1 - beta" needs the LOW tail.

CLI (integrator):
    python -m edit_dllm.calibrate --bundle ../models/edit-tiny-char --checkpoint runs/X/sft.pt [--n-val 400]
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .export import read_bundle_json, write_bundle_json
from .sampler import Bundle, generate
from .sampler_rules import EditRule, softmax64

DELTAS = (0.025, 0.05, 0.1, 0.25, 0.45, 0.55)
OMEGAS = (2, 3, 4, 6, 8, 10, 12)
TAU = 1.0
BETA = 0.1
ALPHA_CLIP = 0.99
POLISH_OPTIONS = (0, 2)


def default_check(task: str, item, text: str) -> bool:
    from .tasks import get_task
    return bool(get_task(task).check(item, text))


def stop_step(kls: Sequence[float | None], delta: float, omega: int, budget: int, polish: int = 0) -> int | None:
    """Alg. 1 replayed on a recorded D_t series: the first t with c >= Omega that the sampler honours."""
    c = 0
    for t, d in enumerate(kls, start=1):
        c = c + 1 if (d is not None and d < delta) else 0
        if c >= omega and t < budget and t + polish < budget:
            return t
    return None


def late_ratios(block: Mapping, tau: float) -> list[float]:
    """TV ratios of Eq 23 over the late steps of one full-budget block trace (see module doc)."""
    steps = [s for s in block["steps"] if not s["polish"]]
    T = block["budget"]
    out = []
    for r in range(2, len(steps)):           # r is 1-based: steps[r-1] is step r
        if not (r - 1 > T / 2 and r + 1 <= min(T, len(steps))):
            continue
        prev, cur, nxt = steps[r - 2], steps[r - 1], steps[r]
        J = prev["visible"]
        if len(J) < 2 or prev["sims"] is None:
            continue

        def dist(s):
            sims = dict(zip(s["visible"], s["sims"]))
            return softmax64(np.array([sims[p] for p in J]) / tau)   # softmax restricted to J = renormalised P
        a, b, c = dist(prev), dist(cur), dist(nxt)
        den = 0.5 * np.abs(b - a).sum()
        if den < 1e-6:
            continue
        out.append(float(0.5 * np.abs(c - b).sum() / den))
    return out


class _Trajectories:
    """Full-budget block trajectories keyed by (item, generation prefix), computed in batches."""

    def __init__(self, forward, prompts: list[list[int]], bundle: Bundle, tau: float, batch_size: int):
        self.forward, self.prompts, self.bundle, self.tau, self.batch = forward, prompts, bundle, tau, batch_size
        self.cache: dict[tuple[int, tuple], dict] = {}
        self.forwards = 0

    def ensure(self, keys: Sequence[tuple[int, tuple]]) -> None:
        todo = sorted({k for k in keys if k not in self.cache})
        if not todo:
            return
        gen = self.bundle.gen
        L, mask = gen.block_length, self.bundle.ids["mask"]
        by_block: dict[int, list] = {}
        for k in todo:
            by_block.setdefault(len(k[1]) // L, []).append(k)
        meta = self.bundle.metadata
        rec_params = {"tau": self.tau, "deltaFirst": 0.0, "omegaFirst": 10 ** 9, "deltaLater": 0.0,
                      "omegaLater": 10 ** 9, "polishSteps": 0}
        for b, ks in by_block.items():
            traces = generate(self.forward, [self.prompts[i] for i, _ in ks], ids=self.bundle.ids, gen=gen,
                              rule_factory=lambda: EditRule(meta, rec_params), batch_size=self.batch,
                              start_block=b, end_block=b + 1, record=True,
                              initial_gen=[list(p) + [mask] * (gen.gen_length - len(p)) for _, p in ks])
            for k, tr in zip(ks, traces):
                blk = tr["blocks"][0]
                self.forwards += blk["stepsUsed"]
                blk["_final"] = tr["outputIds"][b * L:(b + 1) * L]
                self.cache[k] = blk

    def __getitem__(self, key):
        return self.cache[key]


def _simulate_block(blk: Mapping, delta: float, omega: int) -> tuple[list[int], int, int | None, float | None]:
    """(block content, forwards, stop step, margin at stop) for polish 0."""
    kls = [s["kl"] for s in blk["steps"]]
    t = stop_step(kls, delta, omega, blk["budget"])
    if t is None:
        return list(blk["_final"]), blk["stepsUsed"], None, None
    return list(blk["steps"][t - 1]["_fill"]), t, t, blk["steps"][t - 1]["margin"]


def calibrate_task(bundle: Bundle, forward, task: str, items: Sequence, check: Callable, *, tau: float = TAU,
                   deltas=DELTAS, omegas=OMEGAS, beta: float = BETA, batch_size: int = 64,
                   polish_options=POLISH_OPTIONS, verify_sim: bool = False, log=print) -> dict:
    t0 = time.perf_counter()
    gen = bundle.gen
    L, nb, eos = gen.block_length, gen.num_blocks, bundle.ids["eos"]
    prompts = [bundle.encode_prompt(task, it.prompt) for it in items]
    n = len(items)
    pairs = list(itertools.product(deltas, omegas))
    traj = _Trajectories(forward, prompts, bundle, tau, batch_size)

    # State per (item, first pair f, later pair l): an interned prefix id; simulated level by level.
    F = len(pairs)
    intern: dict[tuple, int] = {(): 0}
    prefixes: list[tuple] = [()]

    def pid(p: tuple) -> int:
        if p not in intern:
            intern[p] = len(prefixes)
            prefixes.append(p)
        return intern[p]

    state = np.zeros((n, F, F), dtype=np.int64)
    steps = np.zeros((n, F, F), dtype=np.int64)
    n_stops = np.zeros((n, F, F), dtype=np.int64)
    done = np.zeros((n, F, F), dtype=bool)
    memo: dict = {}
    for b in range(nb):
        live = ~done
        if not live.any():
            break
        traj.ensure(sorted({(i, prefixes[u]) for i in range(n) for u in np.unique(state[i][live[i]])}))
        for i in range(n):
            for f in range(F):
                for l in range(F):
                    if done[i, f, l]:
                        continue
                    u = int(state[i, f, l])
                    pair = pairs[f] if b == 0 else pairs[l]
                    mk = (i, u, pair)
                    if mk not in memo:
                        content, used, t_stop, _m = _simulate_block(traj[(i, prefixes[u])], *pair)
                        memo[mk] = (pid(prefixes[u] + tuple(content)), used, t_stop is not None, eos in content)
                    nu, used, stopped, has_eos = memo[mk]
                    state[i, f, l] = nu
                    steps[i, f, l] += used
                    n_stops[i, f, l] += stopped
                    done[i, f, l] = has_eos
        log(f"[calibrate {task}] block {b}: {len(traj.cache)} trajectories, {traj.forwards} forwards so far")

    correct_memo: dict = {}

    def correct(i: int, u: int) -> bool:
        if (i, u) not in correct_memo:
            content = _pad(prefixes[u], gen.gen_length, eos)
            correct_memo[(i, u)] = bool(check(task, items[i], bundle.decode(content)))
        return correct_memo[(i, u)]

    # Full-budget outcome: follow the never-stopping trajectories.
    full_ok, full_steps = [], []
    for i in range(n):
        p, st = (), 0
        for b in range(nb):
            traj.ensure([(i, p)])
            blk = traj[(i, p)]
            p, st = p + tuple(blk["_final"]), st + blk["stepsUsed"]
            if eos in blk["_final"]:
                break
        full_ok.append(correct(i, pid(p)))
        full_steps.append(st)
    full_acc, full_fwd = float(np.mean(full_ok)), float(np.mean(full_steps))

    ok_arr = np.array([[[correct(i, int(state[i, f, l])) for l in range(F)] for f in range(F)] for i in range(n)])
    acc_grid, fwd_grid, stop_grid = ok_arr.mean(0), steps.mean(0), n_stops.sum(0)
    grid = []
    for f, l in itertools.product(range(F), range(F)):
        acc, fwd = float(acc_grid[f, l]), float(fwd_grid[f, l])
        grid.append({"first": pairs[f], "later": pairs[l], "accuracy": acc, "forwards": fwd,
                     "score": acc / fwd if fwd else 0.0, "stops": int(stop_grid[f, l])})
    # Accuracy is kept first (App. B.1's trade-off only among settings within 1 point of full);
    # when no setting is, the trade-off is taken among those within 1 point of the best reachable
    # accuracy, never over the whole grid (which would pick the most aggressive cut).
    ok = [g for g in grid if g["accuracy"] >= full_acc - 0.01 - 1e-12]
    if not ok:
        top = max(g["accuracy"] for g in grid)
        ok = [g for g in grid if g["accuracy"] >= top - 0.01 - 1e-12]
    # Ties: higher accuracy, then fewer forwards, then grid order (max keeps the first).
    best = max(ok, key=lambda g: (g["score"], g["accuracy"], -g["forwards"]))
    (dF, oF), (dL, oL) = best["first"], best["later"]
    log(f"[calibrate {task}] full acc {full_acc:.3f} fwd {full_fwd:.1f}; best {best}")

    # alpha-hat from the full-budget trajectories (Eq 23).
    ratios = [r for blk in traj.cache.values() for r in late_ratios(blk, tau)]
    alpha_raw = max(ratios) if ratios else None
    alpha_hat = min(alpha_raw, ALPHA_CLIP) if alpha_raw is not None else ALPHA_CLIP

    # Polish 0 of the chosen thresholds: from the simulation (exact; `verify_sim` re-runs it for real).
    # Polish > 0 changes the block content after the stop, so those options are real runs.
    base = {"tau": tau, "deltaFirst": dF, "omegaFirst": oF, "deltaLater": dL, "omegaLater": oL}
    sim_margins = []
    for i in range(n):
        p = ()
        for b in range(nb):
            blk = traj[(i, p)]
            content, _used, t_stop, margin = _simulate_block(blk, *((dF, oF) if b == 0 else (dL, oL)))
            if t_stop is not None:
                sim_margins.append(margin)
            p = p + tuple(content)
            if eos in content:
                break
    real = {}
    for p in polish_options:
        params = {**base, "polishSteps": p}
        if p == 0 and not verify_sim:
            real[0] = {"params": params, "accuracy": best["accuracy"], "forwards": best["forwards"],
                       "score": best["score"], "margins": sim_margins, "simulated": True}
            continue
        traces = bundle.run(forward, task, [it.prompt for it in items], "edit", params, batch_size=batch_size)
        acc = float(np.mean([check(task, it, tr["text"]) for it, tr in zip(items, traces)]))
        fwd = float(np.mean([tr["totals"]["forwards"] for tr in traces]))
        margins = [blk["steps"][blk["stopStep"] - 1]["margin"] for tr in traces for blk in tr["blocks"]
                   if blk["endedBy"] == "stop-rule"]
        real[p] = {"params": params, "accuracy": acc, "forwards": fwd, "score": acc / fwd if fwd else 0.0,
                   "margins": margins, "simulated": False}
    ok_p = [p for p in polish_options if real[p]["accuracy"] >= full_acc - 0.01 - 1e-12]
    if not ok_p:
        top_p = max(real[p]["accuracy"] for p in polish_options)
        ok_p = [p for p in polish_options if real[p]["accuracy"] >= top_p - 0.01 - 1e-12]
    polish = max(ok_p, key=lambda p: (real[p]["score"], real[p]["accuracy"], -real[p]["forwards"]))
    chosen = real[polish]
    margins = [m for m in chosen["margins"] if m is not None]
    q = float(np.quantile(margins, beta)) if margins else 0.0
    sim_check = None
    if verify_sim and 0 in real:
        sim_check = {"simAccuracy": best["accuracy"], "realAccuracy": real[0]["accuracy"],
                     "simForwards": best["forwards"], "realForwards": real[0]["forwards"],
                     "simStops": len(sim_margins), "realStops": len(real[0]["margins"])}
    return {
        "task": task, "n": n, "tau": tau, "fullAccuracy": full_acc, "fullForwards": full_fwd,
        "best": best, "polish": polish, "chosen": {k: v for k, v in chosen.items() if k != "margins"},
        "polishRuns": {p: {k: v for k, v in r.items() if k != "margins"} for p, r in real.items()},
        "alphaHat": alpha_hat, "alphaRaw": alpha_raw, "alphaRatios": len(ratios),
        "alphaQuantiles": {str(qq): float(np.quantile(ratios, qq)) for qq in (0.5, 0.9, 0.99)} if ratios else {},
        "q": q, "beta": beta, "stops": len(margins), "simCheck": sim_check,
        "trajectories": len(traj.cache), "trajectoryForwards": traj.forwards,
        "seconds": time.perf_counter() - t0, "grid": grid,
    }


def _pad(prefix: tuple, n: int, eos: int) -> tuple:
    return tuple(prefix) + (eos,) * (n - len(prefix))


def calibrate(bundle_dir: str | Path, forward, val_sets: Mapping[str, Sequence], *, check: Callable | None = None,
              n_val: int | None = None, batch_size: int = 64, write: bool = True, record_path: str | Path | None = None,
              log=print, **kw) -> dict:
    bundle = Bundle.load(bundle_dir)
    check = check or default_check
    record = {"bundle": bundle.json["name"], "tasks": {}}
    for task, items in val_sets.items():
        items = list(items)[:n_val] if n_val else list(items)
        record["tasks"][task] = calibrate_task(bundle, forward, task, items, check, batch_size=batch_size, log=log, **kw)
    if write:
        bj = read_bundle_json(bundle_dir)
        for task, r in record["tasks"].items():
            bj["tasks"][task]["stop"] = {"rule": "edit", "params": r["chosen"]["params"]}
            bj["tasks"][task]["certificates"] = {"alphaHat": r["alphaHat"], "q": r["q"], "beta": r["beta"]}
        write_bundle_json(bundle_dir, bj)
    if record_path:
        slim = json.loads(json.dumps(record))
        Path(record_path).write_text(json.dumps(slim, indent=1) + "\n")
    return record


def main(argv: Sequence[str] | None = None) -> None:
    import torch
    from .tasks import get_task
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--checkpoint", help="peft SFT checkpoint; omitted: run the bundle's model.onnx")
    ap.add_argument("--tasks", default="", help="comma-separated (default: the bundle's tasks)")
    ap.add_argument("--n-val", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--record", default="calibration.json")
    ap.add_argument("--dry-run", action="store_true", help="do not rewrite bundle.json")
    ap.add_argument("--verify-sim", action="store_true", help="also run polish 0 for real and compare with the simulation")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = Bundle.load(a.bundle)
    tasks = a.tasks.split(",") if a.tasks else list(bundle.json["tasks"])
    from .checkpoint_io import cli_forward
    fwd = cli_forward(a.bundle, a.checkpoint, a.threads)
    val = {t: get_task(t).generate("val", a.n_val) for t in tasks}
    rec = calibrate(a.bundle, fwd, val, n_val=a.n_val, batch_size=a.batch_size, write=not a.dry_run,
                    record_path=a.record, verify_sim=a.verify_sim)
    for t, r in rec["tasks"].items():
        print(json.dumps({k: r[k] for k in ("task", "n", "fullAccuracy", "fullForwards", "best", "polish", "chosen",
                                            "alphaHat", "alphaRaw", "q", "simCheck", "seconds")}))


if __name__ == "__main__":
    main()
