"""The learned commit policy (issue 21, item 3): a small MLP that predicts from per-token features
whether a masked token's current argmax is final, trained on val traces against the commit oracle.

    python -m edit_dllm.commit_policy --data ROWS.jsonl [--data MORE.jsonl ...] --bundle ../models/edit-tiny-char [--epochs 30]

ROWS.jsonl comes from `edit-dllm eval --policy-data ROWS.jsonl` (research/src/eval/commit-policy-data.ts):
one row per masked token per forward along a driver's decode of a val item (the commit oracle's, or with
--policy-driver a rule's own, the learned policy's included), {task, item, y, f, eoa?}, f in the order of
server/src/stop/commit-features.ts FEATURE_NAMES, y = 1 when the argmax equals full's token there, eoa = 1
on the block's first eos position. Trains two policies with the same recipe: "default" on every feature
and "no-edit" without EDIT's per-token signal (editCos, editDrift); each is a token network (every row)
plus an end-of-answer network (the eoa rows only: P(the answer ends at this eos)). Writes them as
commit-policy.json and commit-policy-no-edit.json into the bundle and names them in bundle.json
`commit_policies`. Rows from several files are pooled; items are split 80/20 (by file and item, seeded)
for a held-out loss/accuracy report; the final fit uses every item.
Architecture: standardised inputs -> Linear(n, 64) -> ReLU -> Linear(64, 32) -> ReLU -> Linear(32, 1),
BCE-with-logits, Adam (lr 3e-3), batch 512, 1 CPU thread (~2.8 k parameters).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import torch

FEATURE_NAMES = ["conf", "margin", "entropy", "stable", "offset", "filled", "progress", "left", "editCos", "editDrift",
                 "isEos", "afterEos", "minConfLeft", "confRank"]
EDIT_FEATURES = ["editCos", "editDrift"]
FORMAT = "edit-dllm-commit-policy/1"


def load_rows(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[tuple[int, str, int]]]:
    """Features, labels, the eoa mask and (file, task, item) keys; rows of an older file (fewer features) are refused."""
    xs, ys, eoa, keys = [], [], [], []
    for k, path in enumerate(paths):
        with open(path) as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                r = json.loads(line)
                if len(r["f"]) != len(FEATURE_NAMES):
                    raise ValueError(f"{path}:{n}: {len(r['f'])} features, expected {len(FEATURE_NAMES)} ({', '.join(FEATURE_NAMES)}); record it again with edit-dllm eval --policy-data")
                xs.append(r["f"])
                ys.append(float(r["y"]))
                eoa.append(bool(r.get("eoa", 0)))
                keys.append((k, r["task"], int(r["item"])))
    return torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64), torch.tensor(eoa, dtype=torch.bool), keys


def make_net(n: int, hidden: tuple[int, int] = (64, 32)) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(n, hidden[0]), torch.nn.ReLU(),
        torch.nn.Linear(hidden[0], hidden[1]), torch.nn.ReLU(),
        torch.nn.Linear(hidden[1], 1),
    ).double()


def fit(x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> tuple[torch.nn.Sequential, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    mean = x.mean(0)
    std = x.std(0).clamp_min(1e-6)
    xn = (x - mean) / std
    net = make_net(x.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xn), generator=g)
        for i in range(0, len(xn), 512):
            idx = perm[i:i + 512]
            opt.zero_grad()
            loss = loss_fn(net(xn[idx]).squeeze(-1), y[idx])
            loss.backward()
            opt.step()
    return net, mean, std


@torch.no_grad()
def evaluate(net, mean, std, x, y) -> dict:
    logits = net((x - mean) / std).squeeze(-1)
    p = torch.sigmoid(logits)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y).item()
    acc = ((p > 0.5).double() == y).double().mean().item()
    # Precision of "final" at p > 0.9: committing a wrong token is the costly error.
    hi = p > 0.9
    prec = (y[hi].mean().item() if hi.any() else float("nan"))
    return {"rows": len(y), "bce": loss, "accuracy": acc, "precision_at_0.9": prec, "committed_at_0.9": hi.double().mean().item()}


def to_json(net, mean, std, features: list[str], meta: dict) -> dict:
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    return {
        "features": features,
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "layers": [{"w": l.weight.detach().tolist(), "b": l.bias.detach().tolist()} for l in layers],
        "parameters": sum(p.numel() for p in net.parameters()),
        **meta,
    }


def fit_network(x: torch.Tensor, y: torch.Tensor, is_held: torch.Tensor, feats: list[str], items: int, epochs: int, seed: int) -> dict:
    """Held-out report from a fit on 80 % of the items, then the shipped fit on all of them."""
    net, mean, std = fit(x[~is_held], y[~is_held], epochs, seed)
    heldout = evaluate(net, mean, std, x[is_held], y[is_held])
    net, mean, std = fit(x, y, epochs, seed)
    return to_json(net, mean, std, feats, {"trained_on": {"rows": len(y), "items": items, "positive": float(y.mean())},
                                           "heldout_20pct_items": heldout, "epochs": epochs, "seed": seed})


def train(data: list[Path], epochs: int = 30, seed: int = 0) -> dict[str, dict]:
    torch.set_num_threads(1)
    x_all, y, eoa, keys = load_rows(data)
    items = sorted(set(keys))
    rng = random.Random(seed)
    rng.shuffle(items)
    held = set(items[: max(1, len(items) // 5)])
    is_held = torch.tensor([k in held for k in keys])
    out = {}
    for name, feats in (("default", FEATURE_NAMES), ("no-edit", [f for f in FEATURE_NAMES if f not in EDIT_FEATURES])):
        cols = [FEATURE_NAMES.index(f) for f in feats]
        x = x_all[:, cols]
        policy = {"format": FORMAT, **fit_network(x, y, is_held, feats, len(items), epochs, seed)}
        if eoa.any():
            # The answer's end decides how much of the generation is left: its own network, on its own rows.
            policy["end_of_answer"] = fit_network(x[eoa], y[eoa], is_held[eoa], feats, len({k for k, e in zip(keys, eoa.tolist()) if e}), epochs, seed)
        out[name] = policy
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, type=Path, action="append", help="rows (JSONL); repeat to pool several recordings")
    ap.add_argument("--bundle", required=True, type=Path)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    policies = train(a.data, a.epochs, a.seed)
    files = {"default": "commit-policy.json", "no-edit": "commit-policy-no-edit.json"}
    for name, pol in policies.items():
        (a.bundle / files[name]).write_text(json.dumps(pol, separators=(",", ":")) + "\n")
        print(name, json.dumps(pol["heldout_20pct_items"]), pol["parameters"], "parameters")
        if "end_of_answer" in pol:
            print(f"{name} end_of_answer", json.dumps(pol["end_of_answer"]["heldout_20pct_items"]), pol["end_of_answer"]["parameters"], "parameters")
    cfg_path = a.bundle / "bundle.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["commit_policies"] = files
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


if __name__ == "__main__":
    main()
