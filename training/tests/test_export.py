"""ONNX export: parity with PyTorch (<= 1e-4), dynamic axes, probe outputs before the LoRA scaling,
and a bad probe path naming the candidates."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from peft import LoraConfig, get_peft_model

from edit_dllm.export import (OnnxForward, ProbePathError, check_parity, clean_module_name, export_onnx,
                              resolve_probes)
from edit_dllm.model import MaskedDiffusionLM, ModelConfig

FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures"


def tiny_peft(positions: str = "learned"):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=24, mask_id=3, pad_id=2, d_model=32, n_layers=2, n_heads=2, d_ff=48, max_len=64,
                      positions=positions)
    pm = get_peft_model(MaskedDiffusionLM(cfg), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj"],
                                                          lora_dropout=0.0))
    for n, p in pm.named_parameters():
        if ".lora_B." in n:  # peft initialises B to zero; make the LoRA branch non-trivial
            torch.nn.init.normal_(p, std=0.2)
    return pm.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    pm = tiny_peft()
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    names = export_onnx(pm, "all-qkv", path)
    return pm, path, names


def test_probe_resolution():
    pm = tiny_peft()
    assert resolve_probes(pm, "default") == ["base_model.model.blocks.1.attn.q_proj.lora_B.default"]
    assert len(resolve_probes(pm, "all-qkv")) == 6
    assert clean_module_name("base_model.model.blocks.1.attn.q_proj.lora_B.default") == "blocks.1.attn.q_proj"


def test_bad_probe_path_lists_candidates():
    pm = tiny_peft()
    with pytest.raises(ProbePathError) as e:
        resolve_probes(pm, ["base_model.model.blocks.7.attn.q_proj.lora_B.default"])
    msg = str(e.value)
    assert "blocks.7" in msg
    assert "base_model.model.blocks.0.attn.k_proj.lora_B.default" in msg
    assert "base_model.model.blocks.1.attn.v_proj.lora_B.default" in msg


def test_graph_io_and_dynamic_axes(exported):
    _, path, names = exported
    g = onnx.load(str(path)).graph
    (inp,) = g.input
    assert inp.name == "input_ids" and inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim] == ["batch", "seq"]
    assert [o.name for o in g.output] == names
    assert names == ["logits"] + [f"act.blocks.{b}.attn.{m}_proj" for b in (0, 1) for m in "qkv"]
    for o in g.output:
        dims = o.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims[:2]] == ["batch", "seq"]
    # LoRA is not merged: per block q/k/v take 3 MatMuls each (base, A, B), plus o_proj, QK^T, AV and
    # the 3 MLP MatMuls: 15 per block; + lm_head = 31 for 2 blocks (a merged graph would have 19).
    assert sum(n.op_type == "MatMul" for n in g.node) == 31


def test_onnx_parity_within_1e4(exported):
    pm, path, names = exported
    diffs = check_parity(pm, "all-qkv", path, vocab_size=24, pad_id=2, shapes=((1, 5), (3, 21), (2, 40)))
    assert set(diffs) == set(names)
    assert max(diffs.values()) <= 1e-4


def test_rope_model_onnx_parity_within_1e4(tmp_path):
    pm = tiny_peft("rope")
    path = tmp_path / "rope.onnx"
    export_onnx(pm, "default", path)
    diffs = check_parity(pm, "default", path, vocab_size=24, pad_id=2, shapes=((1, 5), (3, 21), (2, 40)))
    assert max(diffs.values()) <= 1e-4


def test_probe_output_is_lora_b_before_scaling(exported):
    pm, path, _ = exported
    ids = torch.randint(4, 24, (1, 9))
    logits, acts = OnnxForward(path)(ids)
    # Recompute B(A x) by hand for blocks.1 q_proj: x = the attention-norm output of block 1.
    base = pm.base_model.model
    captured = {}
    h = base.blocks[1].attn_norm.register_forward_hook(lambda m, i, o: captured.__setitem__("x", o))
    with torch.no_grad():
        base(ids)
    h.remove()
    q = base.blocks[1].attn.q_proj
    with torch.no_grad():
        want = captured["x"] @ q.lora_A["default"].weight.T @ q.lora_B["default"].weight.T
    assert np.abs(acts["blocks.1.attn.q_proj"].numpy() - want.numpy()).max() <= 1e-5
    assert q.scaling["default"] == 2.0  # alpha/r: the probe output is NOT multiplied by it


def test_micro_bundle_is_complete_and_small():
    d = FIXTURES / "micro-bundle"
    files = {p.name for p in d.iterdir()}
    assert {"model.onnx", "tokenizer.json", "edit-metadata.safetensors", "bundle.json"} <= files
    assert sum(p.stat().st_size for p in d.iterdir()) < 1_000_000
    bj = json.loads((d / "bundle.json").read_text())
    assert bj["format"] == "edit-bundle/1" and bj["default_probe"] in bj["probes"].values()
    outs = [o.name for o in onnx.load(str(d / "model.onnx")).graph.output]
    assert outs == ["logits"] + list(bj["probes"])


def test_legacy_exporter_opset17_parity(tmp_path):
    pm = tiny_peft()
    path = tmp_path / "legacy.onnx"
    export_onnx(pm, "default", path, opset=17, dynamo=False)
    assert onnx.load(str(path)).opset_import[0].version == 17
    diffs = check_parity(pm, "default", path, vocab_size=24, pad_id=2)
    assert max(diffs.values()) <= 1e-4


def test_left_pad_positions_skip_only_the_leading_run():
    """Converted bundles pad with eos: an eos after the left padding keeps its own position."""
    from edit_dllm.export import left_pad_positions
    ids = np.array([[1, 1, 7, 1, 8], [7, 1, 1, 8, 9], [1, 1, 1, 1, 1]])
    assert left_pad_positions(ids, 1).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4], [0, 0, 0, 0, 0]]
    assert left_pad_positions(ids, None).tolist() == [[0, 1, 2, 3, 4]] * 3
