"""speed.py on the micro bundle: the reference weights reproduce model.onnx, and the speed JSON counts
the same forwards as the reference sampler's own traces."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edit_dllm.reference_weights import ReferenceWeightsError, load_reference_model, save_reference_weights
from edit_dllm.sampler import Bundle, TorchForward, generate
from edit_dllm.speed import main, probe_paths, rule_for

ROOT = Path(__file__).resolve().parents[2]
MICRO = ROOT / "test" / "fixtures" / "micro-bundle"
ITEMS = ROOT / "test" / "fixtures" / "bench-items.jsonl"


def test_reference_weights_match_the_onnx_graph():
    ort = pytest.importorskip("onnxruntime")
    model = load_reference_model(MICRO)
    bundle = Bundle.load(MICRO)
    fwd = TorchForward(model, probe_paths(model, bundle.probes))
    ids = torch.tensor([[2, 2, 5, 9, 3, 3, 3], [7, 8, 5, 9, 3, 3, 3]], dtype=torch.int64)
    sess = ort.InferenceSession(str(MICRO / "model.onnx"), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"input_ids": ids.numpy()})
    logits, acts = fwd(ids)
    np.testing.assert_allclose(logits.numpy(), outs[0], atol=1e-4)
    for o, arr in zip(sess.get_outputs()[1:], outs[1:]):
        np.testing.assert_allclose(acts[bundle.json["probes"][o.name]].numpy(), arr, atol=1e-4)


def test_save_load_round_trip(tmp_path):
    model = load_reference_model(MICRO)
    save_reference_weights(model, tmp_path)
    cfg = json.loads((tmp_path / "reference" / "config.json").read_text())
    assert cfg["lora"]["r"] == 4 and cfg["lora_merged"] is False
    again = load_reference_model(tmp_path)
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    with pytest.raises(ReferenceWeightsError, match="save_reference_weights"):
        load_reference_model(tmp_path / "nowhere")


def test_rule_params_follow_the_bundle():
    b = Bundle.load(MICRO)
    calibrated = b.json["tasks"]["arith"]["stop"]
    assert rule_for(b, "arith", "calibrated", None) == (calibrated["rule"], calibrated["params"])
    assert rule_for(b, "arith", "edit", None) == ("edit", calibrated["params"])  # micro's calibrated rule is edit
    assert rule_for(b, "arith", "full", None) == ("full", {})
    assert rule_for(b, "arith", "edit", {"tau": 0.5}) == ("edit", {"tau": 0.5})
    assert rule_for(b, "arith", "edit", {"tau": 0.5, "probe": ""}) == ("edit", {"tau": 0.5})  # TS: "" = default probe


def test_speed_json_on_two_items(capsys):
    assert main(["--bundle", str(MICRO), "--items", str(ITEMS), "--limit", "2", "--rules", "full,edit", "--threads", "1"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(out) == ["full", "edit"]
    # Expected forwards: the reference sampler's own traces on the same prompts (batch 1).
    b = Bundle.load(MICRO)
    model = load_reference_model(MICRO)
    fwd = TorchForward(model, probe_paths(model, b.probes))
    items = [json.loads(l) for l in ITEMS.read_text().splitlines()[:2]]
    for rule in ("full", "edit"):
        want = 0
        for it in items:
            name, p = rule_for(b, it["task"], rule, None)
            (tr,) = generate(fwd, [b.encode_prompt(it["task"], it["prompt"])], ids=b.ids, gen=b.gen,
                             rule_factory=b.rule_factory(name, p, it["task"]), batch_size=1)
            want += tr["totals"]["forwards"]
        assert out[rule]["items"] == 2
        assert out[rule]["forwards"] == want
        assert out[rule]["tokensPerSec"] > 0
