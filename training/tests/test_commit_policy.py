"""The learned commit policy's trainer (edit_dllm.commit_policy) on synthetic rows: the written file has
the format server/src/stop/commit-policy.ts reads, its forward as that file computes it separates the
labels, the
no-edit variant leaves EDIT's two features out, the end-of-answer network is fitted on the eoa rows alone,
and a file recorded before the last features existed is refused with a message saying so."""
import json
import math
import random

from edit_dllm import commit_policy as cp


def _rows(path, n=600, seed=0):
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for i in range(n):
            conf = rng.random()
            eoa = i % 3 == 0
            # On the eoa rows the label follows the left-context confidence instead (minConfLeft > .5).
            left = rng.random()
            f = [conf, conf / 2, 1 - conf, 0, 0, 0, 0.5, 1, 0.1 * rng.random(), -1, int(eoa), 0, left, 0.5]
            y = int(left > 0.5) if eoa else int(conf > 0.5)
            fh.write(json.dumps({"task": "arith", "item": i // 10, "y": y, "f": f, **({"eoa": 1} if eoa else {})}) + "\n")


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
    # 14 -> 64 -> 32 -> 1: 960 + 2080 + 33 parameters
    assert pol["parameters"] == 14 * 64 + 64 + 64 * 32 + 32 + 32 + 1
    # The token label is conf > .5 on 2/3 of the rows: the held-out items are separated almost perfectly there.
    assert pol["heldout_20pct_items"]["accuracy"] > 0.75
    assert _forward(pol, [0.95, 0.475, 0.05, 0, 0, 0, 0.5, 1, 0.05, -1, 0, 0, 0.5, 0.5]) > 0.9
    assert _forward(pol, [0.05, 0.025, 0.95, 0, 0, 0, 0.5, 1, 0.05, -1, 0, 0, 0.5, 0.5]) < 0.1
    # The end-of-answer network learnt its own rows' rule (minConfLeft > .5), whatever conf says.
    eoa = pol["end_of_answer"]
    assert eoa["trained_on"]["rows"] == 200 and eoa["features"] == cp.FEATURE_NAMES
    assert _forward(eoa, [0.05, 0.025, 0.95, 0, 0, 0, 0.5, 1, 0.05, -1, 1, 0, 0.95, 0.5]) > 0.9
    assert _forward(eoa, [0.95, 0.475, 0.05, 0, 0, 0, 0.5, 1, 0.05, -1, 1, 0, 0.05, 0.5]) < 0.1
    assert "end_of_answer" in ablation


def test_refuses_rows_with_the_old_feature_count(tmp_path):
    data = tmp_path / "old.jsonl"
    data.write_text(json.dumps({"task": "arith", "item": 0, "y": 1, "f": [0.5] * 10}) + "\n")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text("{}")
    try:
        cp.main(["--data", str(data), "--bundle", str(bundle)])
    except ValueError as e:
        assert "10 features, expected 14" in str(e) and "old.jsonl:1" in str(e)
    else:
        raise AssertionError("old rows were accepted")
