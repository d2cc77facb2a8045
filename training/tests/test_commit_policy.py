"""The learned commit policy's trainer (edit_dllm.commit_policy) on synthetic rows: the written file has
the format server/src/stop/commit-policy.ts reads, its forward as that file computes it separates the
labels, and the
no-edit variant leaves EDIT's two features out."""
import json
import math
import random

from edit_dllm import commit_policy as cp


def _rows(path, n=600, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            conf = rng.random()
            f = [conf, conf / 2, 1 - conf, 0, 0, 0, 0.5, 1, 0.1 * rng.random(), -1]
            fh.write(json.dumps({"task": "arith", "item": i // 10, "y": int(conf > 0.5), "f": f}) + "\n")


def _forward(pol, row):
    x = [(row[cp.FEATURE_NAMES.index(f)] - m) / s for f, m, s in zip(pol["features"], pol["mean"], pol["std"])]
    for k, layer in enumerate(pol["layers"]):
        z = [b + sum(w_i * x_i for w_i, x_i in zip(w, x)) for w, b in zip(layer["w"], layer["b"])]
        x = z if k == len(pol["layers"]) - 1 else [max(0.0, v) for v in z]
    return 1 / (1 + math.exp(-x[0]))


def test_trains_writes_and_names_the_policies(tmp_path):
    data = tmp_path / "rows.jsonl"
    _rows(data)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text(json.dumps({"format": "edit-bundle/1"}))
    cp.main(["--data", str(data), "--bundle", str(bundle), "--epochs", "40"])
    cfg = json.loads((bundle / "bundle.json").read_text())
    assert cfg["commit_policies"] == {"default": "commit-policy.json", "no-edit": "commit-policy-no-edit.json"}
    pol = json.loads((bundle / "commit-policy.json").read_text())
    ablation = json.loads((bundle / "commit-policy-no-edit.json").read_text())
    assert pol["format"] == cp.FORMAT and pol["features"] == cp.FEATURE_NAMES
    assert ablation["features"] == [f for f in cp.FEATURE_NAMES if f not in ("editCos", "editDrift")]
    # 10 -> 64 -> 32 -> 1: 704 + 2080 + 33 parameters
    assert pol["parameters"] == 10 * 64 + 64 + 64 * 32 + 32 + 32 + 1
    # The label is conf > .5: the held-out items are separated almost perfectly.
    assert pol["heldout_20pct_items"]["accuracy"] > 0.95
    assert _forward(pol, [0.95, 0.475, 0.05, 0, 0, 0, 0.5, 1, 0.05, -1]) > 0.9
    assert _forward(pol, [0.05, 0.025, 0.95, 0, 0, 0, 0.5, 1, 0.05, -1]) < 0.1
