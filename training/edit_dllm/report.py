"""Test-split report: full steps vs EDIT (the bundle's calibrated per-task parameters) per task.

    write_report(bundle_dir, forward, test_sets, *, check=None, n_test=None, out_json=..., readme=None,
                 adapter=None) -> dict
        test_sets: {task: [tasks.Item, ...]} (the test split, >= 500 items per task for the report)
        adapter: a peft adapter_model.safetensors; EDIT also runs with u and the subspace derived
        from its B matrices alone (adapter_metadata.u_from_adapter, issue item 6)

EDIT always means the `edit` rule with the calibrated (delta, Omega) kept in tasks[task].stop.params,
also when a later evaluation made another rule the task's default (its extra params are dropped).

Per task: accuracy with full steps and with EDIT (95 % Wilson interval), average forwards per
generated block and per generation, the reduction vs full steps, and over EDIT's stopped blocks the
fraction whose certificate satisfies Thm 2 (Eq 18), Thm 4 (Eq 20, "certified stop") and Cor 6 (Eq 24).
Writes the JSON and (with `readme`) replaces the section between `<!-- report:start -->` and
`<!-- report:end -->` of training/README.md with a markdown table.

CLI (integrator):
    python -m edit_dllm.report --bundle ../models/edit-tiny-char --checkpoint runs/X/sft.pt --n-test 500 \
        --out report.json --readme README.md
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .sampler import Bundle
from .sampler_rules import EDIT_DEFAULTS, EditMetadata, ModuleMetadata

START, END = "<!-- report:start -->", "<!-- report:end -->"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval for k successes out of n."""
    if n == 0:
        return 0.0, 0.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(traces: Sequence[Mapping], ok: Sequence[bool]) -> dict:
    k, n = int(sum(ok)), len(ok)
    blocks = [b for tr in traces for b in tr["blocks"] if b["endedBy"] != "eos-skip"]
    stops = [b for b in blocks if b["endedBy"] == "stop-rule"]
    certs = [b["certificate"] for b in stops if b["certificate"]]

    def frac(key):
        return (sum(bool(c[key]) for c in certs) / len(stops)) if stops else None
    lo, hi = wilson(k, n)
    return {
        "n": n, "correct": k, "accuracy": k / n if n else 0.0, "wilson95": [lo, hi],
        "forwardsPerGeneration": float(np.mean([tr["totals"]["forwards"] for tr in traces])) if traces else 0.0,
        "stepsPerBlock": float(np.mean([b["stepsUsed"] for b in blocks])) if blocks else 0.0,
        "blocks": len(blocks), "stoppedBlocks": len(stops),
        "thm2Fraction": frac("thm2"), "thm4Fraction": frac("thm4"), "cor6Fraction": frac("cor6"),
    }


def edit_params(stop: Mapping) -> dict:
    """The EDIT parameters of a task's stop entry (calibrate.py writes them; a default chosen later
    among other rules keeps them beside its own)."""
    return {k: v for k, v in stop["params"].items() if k in EDIT_DEFAULTS or k == "probe"}


def metadata_from_adapter(meta: EditMetadata, adapter: str | Path) -> EditMetadata:
    """The bundle's metadata with every module's u and subspace replaced by the adapter-derived ones."""
    from .adapter_metadata import u_from_adapter
    est = u_from_adapter(adapter, top_k=4)
    missing = sorted(set(meta.modules) - set(est))
    if missing:
        raise ValueError(f"{adapter}: no LoRA-B for modules {missing}")
    mods = {m: ModuleMetadata(u=est[m]["u"].double().numpy(), subspace=est[m]["subspace"].double().numpy(),
                              ubar=None, grad_rms=md.grad_rms) for m, md in meta.modules.items()}
    return EditMetadata(mods, meta.default_probe, dict(meta.header))


def report_task(bundle: Bundle, forward, task: str, items: Sequence, check: Callable, batch_size: int = 64,
                adapter_bundle: Bundle | None = None) -> dict:
    t0 = time.perf_counter()
    prompts = [it.prompt for it in items]
    stop = bundle.json["tasks"][task]["stop"]
    params = edit_params(stop)

    def run(b: Bundle, rule: str, p: Mapping) -> tuple[list[dict], dict]:
        traces = b.run(forward, task, prompts, rule, p, batch_size=batch_size)
        return traces, summarize(traces, [check(task, it, tr["text"]) for it, tr in zip(items, traces)])
    full, f = run(bundle, "full", {})
    edit, e = run(bundle, "edit", params)
    extra = {}
    if adapter_bundle is not None:
        _, a = run(adapter_bundle, "edit", params)
        extra["editAdapterU"] = a
    return {
        "task": task, "rule": "edit", "defaultRule": stop["rule"], "params": params, **extra,
        "certificates": bundle.json["tasks"][task]["certificates"], "full": f, "edit": e,
        "reductionPerBlock": 1 - e["stepsPerBlock"] / f["stepsPerBlock"] if f["stepsPerBlock"] else None,
        "reductionPerGeneration": (1 - e["forwardsPerGeneration"] / f["forwardsPerGeneration"]
                                   if f["forwardsPerGeneration"] else None),
        "sameOutputFraction": float(np.mean([a["outputIds"] == b["outputIds"] for a, b in zip(full, edit)])),
        "seconds": time.perf_counter() - t0,
    }


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f} %"


def markdown(rep: Mapping) -> str:
    g = rep["generation"]
    lines = [
        f"### Test-split results ({rep['bundle']}, gen {g['gen_length']} / block {g['block_length']} / "
        f"steps {g['steps']}, {g['schedule']})",
        "",
        "| task | n | full acc (95 % CI) | EDIT acc (95 % CI) | steps/block full → EDIT | reduction | "
        "stops | Thm 4 (certified) | Cor 6 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t, r in rep["tasks"].items():
        f, e = r["full"], r["edit"]
        lines.append(
            f"| {t} | {f['n']} | {_pct(f['accuracy'])} ({_pct(f['wilson95'][0])}–{_pct(f['wilson95'][1])}) | "
            f"{_pct(e['accuracy'])} ({_pct(e['wilson95'][0])}–{_pct(e['wilson95'][1])}) | "
            f"{f['stepsPerBlock']:.2f} → {e['stepsPerBlock']:.2f} | {_pct(r['reductionPerBlock'])} | "
            f"{e['stoppedBlocks']}/{e['blocks']} | {_pct(e['thm4Fraction'])} | {_pct(e['cor6Fraction'])} |")
    lines += ["", "EDIT parameters per task (from calibrate.py): "
              + "; ".join(f"{t}: " + ", ".join(f"{k}={v}" for k, v in r["params"].items())
                          + f", alphaHat={r['certificates']['alphaHat']:.3g}, q={r['certificates']['q']:.3g}"
                          for t, r in rep["tasks"].items()), ""]
    if any("editAdapterU" in r for r in rep["tasks"].values()):
        cos = rep.get("adapterUCosine", {})
        lines += ["EDIT with u and the subspace derived from the released adapter's B matrices alone "
                  "(`u_from_adapter`, no optimizer history), same parameters"
                  + (f"; cosine to the recorded u on the default probe {cos['defaultProbe']:.3f}, "
                     f"{cos['min']:.3f}-{cos['max']:.3f} over the {cos['modules']} modules" if cos else "") + ":", "",
                  "| task | EDIT acc, recorded u | EDIT acc, adapter u | steps/block recorded → adapter |",
                  "|---|---|---|---|"]
        for t, r in rep["tasks"].items():
            if "editAdapterU" in r:
                e, a = r["edit"], r["editAdapterU"]
                lines.append(f"| {t} | {_pct(e['accuracy'])} | {_pct(a['accuracy'])} | "
                             f"{e['stepsPerBlock']:.2f} → {a['stepsPerBlock']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def update_readme(readme: str | Path, section: str) -> None:
    p = Path(readme)
    text = p.read_text() if p.exists() else ""
    block = f"{START}\n{section}\n{END}"
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    p.write_text(text)


def write_report(bundle_dir: str | Path, forward, test_sets: Mapping[str, Sequence], *, check: Callable | None = None,
                 n_test: int | None = None, batch_size: int = 64, out_json: str | Path = "report.json",
                 readme: str | Path | None = None, adapter: str | Path | None = None, log=print) -> dict:
    import dataclasses
    from .calibrate import default_check
    bundle = Bundle.load(bundle_dir)
    check = check or default_check
    rep = {"bundle": bundle.json["name"], "generation": bundle.json["generation"], "tasks": {}}
    adapter_bundle = None
    if adapter is not None:
        from .adapter_metadata import compare_with_recorded
        adapter_bundle = dataclasses.replace(bundle, metadata=metadata_from_adapter(bundle.metadata, adapter))
        cos = {m: c["u_cosine"] for m, c in compare_with_recorded(adapter, Path(bundle_dir) / "edit-metadata.safetensors").items()}
        rep["adapterUCosine"] = {"perModule": cos, "defaultProbe": cos.get(bundle.metadata.default_probe),
                                 "min": min(cos.values()), "max": max(cos.values()), "modules": len(cos)}
    for task, items in test_sets.items():
        items = list(items)[:n_test] if n_test else list(items)
        rep["tasks"][task] = report_task(bundle, forward, task, items, check, batch_size, adapter_bundle)
        log(f"[report {task}] " + json.dumps({k: rep["tasks"][task][k] for k in ("reductionPerBlock", "seconds")}))
    Path(out_json).write_text(json.dumps(rep, indent=1) + "\n")
    if readme:
        update_readme(readme, markdown(rep))
    return rep


def main(argv: Sequence[str] | None = None) -> None:
    import torch
    from .tasks import get_task
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--checkpoint", help="peft SFT checkpoint; omitted: run the bundle's model.onnx")
    ap.add_argument("--tasks", default="")
    ap.add_argument("--n-test", type=int, default=500)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="report.json")
    ap.add_argument("--readme", default=None)
    ap.add_argument("--adapter", default=None, help="adapter_model.safetensors: also run EDIT with u from it")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    bundle = Bundle.load(a.bundle)
    tasks = a.tasks.split(",") if a.tasks else list(bundle.json["tasks"])
    from .checkpoint_io import cli_forward
    fwd = cli_forward(a.bundle, a.checkpoint, a.threads)
    test = {t: get_task(t).generate("test", a.n_test) for t in tasks}
    rep = write_report(a.bundle, fwd, test, n_test=a.n_test, batch_size=a.batch_size, out_json=a.out, readme=a.readme,
                       adapter=a.adapter)
    print(markdown(rep))


if __name__ == "__main__":
    main()
