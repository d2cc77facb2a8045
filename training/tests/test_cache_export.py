"""The cache graph (onnx_cache_export.py): ONNX/PyTorch parity with past length 0 and > 0, and the cache
semantics: a query computed against the cached K/V of the other positions (taken from a full forward)
equals the full forward's rows, for learned and rotary positions."""
import numpy as np
import onnx
import pytest
import torch

from edit_dllm.export import CacheProbedModel, export_cache_bundle_graph, resolve_probes
from edit_dllm.onnx_cache_export import CacheOnnxForward, cache_input_names, cache_output_names

from test_export import tiny_peft


@pytest.fixture(scope="module", params=["learned", "rope"])
def exported(request, tmp_path_factory):
    pm = tiny_peft(request.param)
    path = tmp_path_factory.mktemp("cache") / "model.onnx"
    names, cache = export_cache_bundle_graph(pm, "all-qkv", path)  # raises on parity > 1e-4
    return pm, path, names, cache


def test_graph_io(exported):
    _, path, names, cache = exported
    g = onnx.load(str(path)).graph
    assert [i.name for i in g.input] == cache_input_names(2)
    assert cache_input_names(1) == ["input_ids", "position_ids", "past_key.0", "past_value.0", "want"]
    assert [o.name for o in g.output] == names
    assert names == cache_output_names([f"blocks.{b}.attn.{m}_proj" for b in (0, 1) for m in "qkv"], 2)
    assert cache == {"layers": 2, "kv_heads": 2, "head_dim": 16}


def test_no_cache_equals_the_v1_forward(exported):
    pm, path, _, _ = exported
    ids = torch.randint(4, 24, (1, 13), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = pm(ids)
    logits, acts, presents = CacheOnnxForward(path)(ids, torch.arange(13)[None], [(np.zeros((1, 2, 0, 16), np.float32),) * 2] * 2, [3, 9])
    assert logits.shape == (1, 6, 24) and acts["blocks.1.attn.q_proj"].shape == (1, 6, 32)
    assert presents[0][0].shape == (1, 2, 13, 16)
    assert np.abs(logits - full[:, 3:9].numpy()).max() <= 1e-4


def test_query_against_cached_rest_equals_full_rows(exported):
    """Refresh semantics: K/V of positions outside the query, taken from a full forward, give the query
    rows exactly the full forward's logits (attention is bidirectional; order of past rows is free)."""
    pm, path, _, _ = exported
    run = CacheOnnxForward(path)
    s, a, z = 20, 8, 14  # query = positions [8, 14); past = [0, 8) + [14, 20) (the dual cache)
    ids = torch.randint(4, 24, (1, s), generator=torch.Generator().manual_seed(2))
    empty = [(np.zeros((1, 2, 0, 16), np.float32),) * 2] * 2
    full_logits, full_acts, presents = run(ids, torch.arange(s)[None], empty, [0, s])
    past = [(np.concatenate([k[:, :, :a], k[:, :, z:]], axis=2), np.concatenate([v[:, :, :a], v[:, :, z:]], axis=2))
            for k, v in presents]
    logits, acts, _ = run(ids[:, a:z], torch.arange(a, z)[None], past, [0, z - a])
    assert np.abs(logits - full_logits[:, a:z]).max() <= 1e-5
    assert np.abs(acts["blocks.0.attn.v_proj"] - full_acts["blocks.0.attn.v_proj"][:, a:z]).max() <= 1e-5


def test_embedded_bundle_is_the_cache_graph_of_its_reference_weights():
    """models/edit-tiny-char/model.onnx was re-exported (export.py --cache-bundle) from reference/: parity
    with the PyTorch module at past length 0 and > 0, and bundle.json records the cache geometry."""
    from pathlib import Path

    from edit_dllm.export import read_bundle_json
    from edit_dllm.onnx_cache_export import check_cache_parity
    from edit_dllm.reference_weights import load_reference_model

    bundle = Path(__file__).resolve().parents[2] / "models" / "edit-tiny-char"
    cfg = read_bundle_json(bundle)
    assert cfg["model"]["cache"] == {"layers": 4, "kv_heads": 4, "head_dim": 32}
    assert cfg["model"]["max_len"] == 192
    model = load_reference_model(bundle)
    names = list(cfg["probes"].values())
    paths = [f"base_model.model.{n}.lora_B.default" for n in names]
    wrapper = CacheProbedModel(model, paths)
    try:
        diffs = check_cache_parity(wrapper, bundle / "model.onnx", n_layers=4, kv_heads=4, head_dim=32,
                                   probe_names=names, vocab_size=100)
    finally:
        wrapper.remove_hooks()
    assert max(diffs.values()) <= 1e-4


@pytest.mark.parametrize("attention", ["bidirectional", "block-causal"])
def test_fused_mha_export_matches_pytorch(attention, tmp_path):
    """core.FusedMHA (the measured, unshipped fused-attention option; docs/bench.md "Fused attention"):
    bidirectional blocks export one com.microsoft MultiHeadAttention per layer and no Softmax, with GQA
    K/V repeated before it; block-causal blocks keep the unfused path (MHA gets no mask here). Every output
    equals the unfused PyTorch forward within 1e-4, past length 0 included."""
    from edit_dllm.arch.core import BidirectionalLM, CoreConfig
    from edit_dllm.onnx_cache_export import check_cache_parity, export_cache_onnx
    torch.manual_seed(0)
    c = CoreConfig(vocab_size=40, d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, d_ff=48,
                   rope_theta=10000.0, rms_eps=1e-5, attention=attention, block_size=4)
    model = BidirectionalLM(c).eval()
    for layer in model.layers:
        layer.fused_mha = True
    path = tmp_path / "fused.onnx"
    kw = dict(n_layers=2, kv_heads=2, head_dim=8, probe_names=[], vocab_size=40)
    export_cache_onnx(model, path, **kw)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    if attention == "bidirectional":
        assert ops.count("MultiHeadAttention") == 2 and "Softmax" not in ops
    else:
        assert "MultiHeadAttention" not in ops and ops.count("Softmax") == 2
    for layer in model.layers:
        layer.fused_mha = False  # the reference is the unfused eager forward
    worst = check_cache_parity(model, path, **kw)
    assert max(worst.values()) <= 1e-4, worst
