"""Converter tests on tiny random-init checkpoints in LLaDA's and Dream's exact HF layouts.

Independent references: transformers' own LlamaModel / Qwen2Model (with the causal mask replaced by an
all-zero additive mask, i.e. bidirectional) computes the logits from the same checkpoint weights; the
converter's module and its ONNX graph must agree with it. Cache semantics are checked by equality
(prefix K/V fed back as past == the full forward).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from edit_dllm.arch.checkpoint import load_checkpoint
from edit_dllm.arch.errors import ConvertError
from edit_dllm.arch.tiny import build_tiny_adapter, build_tiny_checkpoint
from edit_dllm.convert import OrtCacheGraph, convert


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="edit-convert-"))
    for fam in ("llada", "dream"):
        build_tiny_checkpoint(fam, d / fam / "ckpt")
        build_tiny_adapter(d / fam / "ckpt", d / fam / "lora")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def bundles(work):
    out = {}
    for fam in ("llada", "dream"):
        out[fam] = work / fam / "bundle"
        convert(work / fam / "ckpt", out[fam], adapter=work / fam / "lora", probes="all-qkv", log=lambda s: None)
    return out


def copy_ckpt(work: Path, fam: str, name: str) -> Path:
    dst = work / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(work / fam / "ckpt", dst)
    return dst


# --------------------------------------------------------------------------- independent reference

def hf_reference_logits(ckpt: Path, ids: torch.Tensor, adapter: Path | None = None) -> torch.Tensor:
    """transformers' LlamaForCausalLM (LLaDA renamed to HF names) or Qwen2ForCausalLM (Dream), bidirectional;
    a LoRA adapter is merged by hand (W + alpha/r B A) into the checkpoint weights first."""
    import transformers
    from safetensors.torch import load_file
    cfg = json.loads((ckpt / "config.json").read_text())
    sd = {}
    for f in sorted(ckpt.glob("model-*.safetensors")):
        sd.update({k: v.float() for k, v in load_file(str(f)).items()})
    if adapter is not None:
        acfg = json.loads((adapter / "adapter_config.json").read_text())
        lora = load_file(str(adapter / "adapter_model.safetensors"))
        for k, A in lora.items():
            if ".lora_A." in k:
                module = k[len("base_model.model."):].split(".lora_A.")[0]
                B = lora[k.replace(".lora_A.", ".lora_B.")]
                sd[module + ".weight"] = sd[module + ".weight"] + acfg["lora_alpha"] / acfg["r"] * (B @ A)
    if cfg["model_type"] == "llada":
        hf = transformers.LlamaConfig(vocab_size=cfg["embedding_size"], hidden_size=cfg["d_model"],
                                      intermediate_size=cfg["mlp_hidden_size"], num_hidden_layers=cfg["n_layers"],
                                      num_attention_heads=cfg["n_heads"], num_key_value_heads=cfg["n_kv_heads"],
                                      rms_norm_eps=cfg["rms_norm_eps"], rope_theta=cfg["rope_theta"],
                                      max_position_embeddings=cfg["max_sequence_length"], tie_word_embeddings=False)
        ren = {"attn_norm": "input_layernorm", "q_proj": "self_attn.q_proj", "k_proj": "self_attn.k_proj",
               "v_proj": "self_attn.v_proj", "attn_out": "self_attn.o_proj", "ff_norm": "post_attention_layernorm",
               "ff_proj": "mlp.gate_proj", "up_proj": "mlp.up_proj", "ff_out": "mlp.down_proj"}
        new = {"model.embed_tokens.weight": sd["model.transformer.wte.weight"],
               "model.norm.weight": sd["model.transformer.ln_f.weight"], "lm_head.weight": sd["model.transformer.ff_out.weight"]}
        for k, v in sd.items():
            if ".blocks." in k:
                i, rest = k.split(".blocks.")[1].split(".", 1)
                mod, leaf = rest.rsplit(".", 1)
                new[f"model.layers.{i}.{ren[mod]}.{leaf}"] = v
        sd, cls = new, transformers.LlamaForCausalLM
    else:
        hf = transformers.Qwen2Config(vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"],
                                      intermediate_size=cfg["intermediate_size"], num_hidden_layers=cfg["num_hidden_layers"],
                                      num_attention_heads=cfg["num_attention_heads"],
                                      num_key_value_heads=cfg["num_key_value_heads"], rms_norm_eps=cfg["rms_norm_eps"],
                                      rope_theta=cfg["rope_theta"], tie_word_embeddings=False)
        cls = transformers.Qwen2ForCausalLM
    hf._attn_implementation = "eager"
    model = cls(hf).eval()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    s = ids.shape[1]
    zero_mask = torch.zeros(1, 1, s, s)   # additive 4-D mask of zeros: every position sees every position
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=zero_mask).logits


@pytest.mark.parametrize("fam", ["llada", "dream"])
def test_module_matches_transformers_reference(work, fam):
    ckpt = work / fam / "ckpt"
    model, spec = load_checkpoint(ckpt)
    ids = torch.randint(0, 300, (1, 11), generator=torch.Generator().manual_seed(1))
    ref = hf_reference_logits(ckpt, ids)                      # row j from hidden j (no shift)
    got, _ = model.full(ids)
    if spec.core.shift:   # Dream: row j from hidden j - 1, row 0 from hidden 0
        ref = torch.cat([ref[:, :1], ref[:, :-1]], dim=1)
    assert spec.core.shift == (fam == "dream")
    assert float((got - ref).abs().max()) <= 1e-4


def test_bundle_json_v2_fields(bundles):
    b = json.loads((bundles["llada"] / "bundle.json").read_text())
    assert b["format"] == "edit-bundle/2"
    m = b["model"]
    assert (m["architecture"], m["shift"], m["positions"], m["dtype"], m["max_len"]) == ("llada", False, "rope", "fp32", 256)
    assert m["cache"] == {"layers": 2, "kv_heads": 4, "head_dim": 8, "kv_dtype": "fp32"}
    cfg = json.loads((bundles["llada"].parent / "ckpt" / "config.json").read_text())
    assert b["ids"]["mask"] == cfg["mask_token_id"] and b["ids"]["eos"] == cfg["eos_token_id"]
    assert b["vocab_size"] == cfg["embedding_size"]
    assert "<|start_header_id|>" in b["chat_template"] and b["infill"] == {"template": "{prefix}{gen}{suffix}"}
    assert b["default_probe"] == "model.transformer.blocks.1.q_proj"
    assert len(b["probes"]) == 6
    d = json.loads((bundles["dream"] / "bundle.json").read_text())
    assert (d["model"]["architecture"], d["model"]["shift"], d["model"]["cache"]["kv_heads"]) == ("dream", True, 2)
    assert d["default_probe"] == "model.layers.1.self_attn.q_proj"


@pytest.mark.parametrize("fam", ["llada", "dream"])
def test_onnx_matches_reference_and_cache_is_exact(work, bundles, fam):
    """ORT logits vs transformers' reference (wanted rows only, shift included), then the cache: the
    full forward's present K/V of positions 0..6 fed back as past give the same block logits. (K/V from
    a prefix-only forward would differ from layer 1 on: attention is bidirectional, which is why the
    engine's cache modes refresh.)"""
    ckpt, bundle = work / fam / "ckpt", bundles[fam]
    ids = torch.randint(0, 300, (1, 12), generator=torch.Generator().manual_seed(2))
    ref = hf_reference_logits(ckpt, ids, work / fam / "lora")
    if fam == "dream":
        ref = torch.cat([ref[:, :1], ref[:, :-1]], dim=1)
    run = OrtCacheGraph(bundle / "model.onnx")
    spec = json.loads((bundle / "bundle.json").read_text())["model"]["cache"]
    empty = [np.zeros((1, spec["kv_heads"], 0, spec["head_dim"]), np.float32)] * (2 * spec["layers"])
    full = run(ids.numpy(), np.arange(12)[None], (0, 12), empty)
    assert np.abs(full["logits"] - ref.numpy()).max() <= 1e-4
    block = run(ids.numpy(), np.arange(12)[None], (8, 12), empty)
    assert block["logits"].shape == (1, 4, ref.shape[-1])
    assert np.abs(block["logits"] - ref[:, 8:12].numpy()).max() <= 1e-4
    # positions 0..6 cached; the query is 7..11 (7 = the position before the block, needed with shift)
    past = [full[f"present_{kv}.{i}"][:, :, :7] for i in range(spec["layers"]) for kv in ("key", "value")]
    cached = run(ids[:, 7:].numpy(), np.arange(7, 12)[None], (1, 5), past)
    assert np.abs(cached["logits"] - ref[:, 8:12].numpy()).max() <= 1e-4
    probe = next(k for k in block if k.startswith("act."))
    assert np.abs(cached[probe] - block[probe]).max() <= 1e-5


def test_fp16_and_int8_bundles_run_close_to_fp32(work, bundles):
    ckpt = work / "llada" / "ckpt"
    ids = np.random.default_rng(3).integers(0, 300, (1, 16))
    ref = OrtCacheGraph(bundles["llada"] / "model.onnx")
    empty32 = [np.zeros((1, 4, 0, 8), np.float32)] * 4
    base = ref(ids, np.arange(16)[None], (0, 16), empty32)["logits"]
    for dt, tol in (("fp16", 0.05), ("int8", 0.5)):
        out = work / f"llada-{dt}"
        b = convert(ckpt, out, adapter=work / "llada" / "lora", dtype=dt, log=lambda s: None)
        assert b["model"]["dtype"] == dt
        run = OrtCacheGraph(out / "model.onnx")
        got = run(ids, np.arange(16)[None], (0, 16), empty32)["logits"]
        assert got.dtype == np.float32
        rel = np.abs(got - base).max() / np.abs(base).max()
        assert rel <= tol, (dt, rel)
        shutil.rmtree(out)


def test_fp16_and_int4_bundles_take_and_return_fp16_kv(work, bundles):
    """fp16 and int4 graphs have float16 past/present K/V at the boundary (half the cache bytes); int4 is
    MatMulNBits (ONNX Runtime's quantizer); the K/V they return fed back as past reproduce the full forward."""
    import onnx
    ckpt = work / "llada" / "ckpt"
    ids = np.random.default_rng(4).integers(0, 300, (1, 16))
    for dt in ("fp16", "int4"):
        out = work / f"llada-kv-{dt}"
        b = convert(ckpt, out, adapter=work / "llada" / "lora", dtype=dt, min_top1=None, log=lambda s: None)
        assert b["model"]["dtype"] == dt and b["model"]["cache"]["kv_dtype"] == "fp16"
        g = onnx.load(str(out / "model.onnx"))
        f16 = onnx.TensorProto.FLOAT16
        for v in [*g.graph.input, *g.graph.output]:
            if v.name.startswith(("past_", "present_")):
                assert v.type.tensor_type.elem_type == f16, v.name
            if v.name == "logits":
                assert v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        if dt == "int4":
            inits = {i.name for i in g.graph.initializer}
            nbits = [n for n in g.graph.node if n.op_type == "MatMulNBits"]
            plain = [n for n in g.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
            # every q/k/v/o/gate/up/down projection of both layers is int4; the head (INT4) and the LoRA A/B
            # factors of q/k/v (2 layers x 3 x 2: the probes' path) stay fp32
            assert len(nbits) == 2 * 7 and len(plain) == 1 + 2 * 3 * 2
        run = OrtCacheGraph(out / "model.onnx")
        empty = [np.zeros((1, 4, 0, 8), np.float16)] * 4
        full = run(ids, np.arange(16)[None], (0, 16), empty)
        assert full["present_key.0"].dtype == np.float16
        past = [full[f"present_{k}.{i}"][:, :, :10] for i in range(2) for k in ("key", "value")]
        cached = run(ids[:, 10:], np.arange(10, 16)[None], (0, 6), past)
        # the query's K/V see the same inputs (the past rows are the full forward's): same logits up to fp16
        # rounding (int4's accuracy level 4 also quantises activations per call, over other rows)
        rel = np.abs(cached["logits"] - full["logits"][:, 10:]).max() / np.abs(full["logits"]).max()
        assert rel <= (2e-3 if dt == "fp16" else 5e-2), (dt, rel)
        shutil.rmtree(out)


def test_int4_check_is_top1_agreement_on_real_text(work):
    """The int4 convert-time check: top-1 agreement with fp32 on masked real text, with a message that
    names the figure and what to use instead when it is too low."""
    with pytest.raises(RuntimeError, match=r"int4 check failed: top-1 agreement with fp32 on \d+ masked tokens"):
        convert(work / "llada" / "ckpt", work / "llada-int4-strict", adapter=work / "llada" / "lora", dtype="int4",
                min_top1=1.01, log=lambda s: None)
    shutil.rmtree(work / "llada-int4-strict", ignore_errors=True)


def test_external_data_path(work):
    out = work / "llada-ext"
    convert(work / "llada" / "ckpt", out, adapter=work / "llada" / "lora", external_data_bytes=0, log=lambda s: None)
    assert (out / "model.onnx.data").exists()
    # the weights went out (small tensors may stay inline); convert() checked ORT parity on this file
    assert (out / "model.onnx.data").stat().st_size > 100_000
    shutil.rmtree(out)


# --------------------------------------------------------------------------- bad input

def expect(exc_file: str, text: str, fn):
    with pytest.raises(ConvertError) as ei:
        fn()
    msg = str(ei.value)
    assert exc_file in msg and text in msg, msg
    return msg


def test_directory_without_config(work):
    d = work / "empty"
    d.mkdir(exist_ok=True)
    expect("config.json", "missing", lambda: convert(d, work / "o", adapter=work / "llada" / "lora"))


def test_unsupported_model_type_lists_supported(work):
    d = copy_ckpt(work, "llada", "gpt2-ish")
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (d / "config.json").write_text(json.dumps(cfg))
    msg = expect("config.json", "'gpt2' is not supported", lambda: convert(d, work / "o", adapter=work / "llada" / "lora"))
    assert "'llada'" in msg and "'Dream'" in msg


def test_missing_shard(work):
    d = copy_ckpt(work, "dream", "no-shard")
    (d / "model-00002-of-00002.safetensors").unlink()
    expect("model.safetensors.index.json", "model-00002-of-00002.safetensors",
           lambda: convert(d, work / "o", adapter=work / "dream" / "lora"))


def test_weight_name_mismatch_lists_missing_and_unexpected(work):
    from safetensors.torch import load_file, save_file
    d = copy_ckpt(work, "llada", "renamed")
    f = d / "model-00001-of-00002.safetensors"
    t = load_file(str(f))
    k = next(k for k in t if k.endswith("q_proj.weight"))
    t[k.replace("q_proj", "query")] = t.pop(k)
    save_file(t, str(f))
    idx = json.loads((d / "model.safetensors.index.json").read_text())
    idx["weight_map"][k.replace("q_proj", "query")] = idx["weight_map"].pop(k)
    (d / "model.safetensors.index.json").write_text(json.dumps(idx))
    msg = expect("model.safetensors.index.json", "missing 1 tensor(s)",
                 lambda: convert(d, work / "o", adapter=work / "llada" / "lora"))
    assert k in msg and "unexpected 1 tensor(s)" in msg and k.replace("q_proj", "query") in msg


def test_tokenizer_larger_than_embedding(work):
    d = copy_ckpt(work, "llada", "small-emb")
    cfg = json.loads((d / "config.json").read_text())
    other = json.loads((work / "dream" / "ckpt" / "config.json").read_text())
    # shrink the embedding below the tokenizer: 64 rows, weights sliced to match
    from safetensors.torch import load_file, save_file
    for f in d.glob("model-*.safetensors"):
        t = load_file(str(f))
        for k in list(t):
            if k.endswith("wte.weight") or k.endswith("transformer.ff_out.weight"):
                t[k] = t[k][:64].contiguous()
        save_file(t, str(f))
    cfg.update(embedding_size=64, vocab_size=64, mask_token_id=5, eos_token_id=1, pad_token_id=1)
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "generation_config.json").unlink()
    assert other["vocab_size"] > 64
    expect("tokenizer.json", "embedding has 64 rows", lambda: convert(d, work / "o", adapter=work / "llada" / "lora"))


def test_adapter_without_qkv_targets(work):
    a = build_tiny_adapter(work / "llada" / "ckpt", work / "lora-mlp", targets=("gate_proj", "up_proj"))
    expect("adapter_config.json", "include no q/k/v projection",
           lambda: convert(work / "llada" / "ckpt", work / "o", adapter=a))


def test_adapter_of_another_model(work):
    expect("adapter_model.safetensors", "another model",
           lambda: convert(work / "llada" / "ckpt", work / "o", adapter=work / "dream" / "lora"))


def test_metadata_of_another_model(work, bundles):
    msg = expect("edit-metadata.safetensors", "another model",
                 lambda: convert(work / "llada" / "ckpt", work / "o", adapter=work / "llada" / "lora",
                                 metadata=bundles["dream"] / "edit-metadata.safetensors"))
    assert "model.transformer.blocks.1.q_proj" in msg


def test_cli_exit_code_and_message(work, capsys):
    from edit_dllm.convert import main
    rc = main(["--from", str(work / "nowhere"), "--adapter", str(work / "llada" / "lora"), "--out", str(work / "o")])
    assert rc == 2
    assert "nowhere" in capsys.readouterr().err


def test_without_adapter_no_probes(work):
    """No LoRA: a bundle without probes or metadata (the rules that need none run); --metadata alone is refused."""
    out = work / "llada-base"
    b = convert(work / "llada" / "ckpt", out, adapter=None, log=lambda s: None)
    assert b["probes"] == {} and b["default_probe"] is None
    assert b["tasks"]["chat"]["stop"]["rule"] == "full"
    assert not (out / "edit-metadata.safetensors").exists()
    names = [o.name for o in OrtCacheGraph(out / "model.onnx").session.get_outputs()]
    assert not any(n.startswith("act.") for n in names) and names[0] == "logits"
    from edit_dllm.sampler import Bundle
    model, _ = load_checkpoint(work / "llada" / "ckpt")
    b2 = Bundle.load(out)
    tr = b2.run(model.full, "chat", ["hi"], "full", batch_size=1)[0]
    assert len(tr["outputIds"]) == b["generation"]["gen_length"]
    expect("--metadata", "--adapter", lambda: convert(work / "llada" / "ckpt", out, adapter=None,
                                                      metadata=work / "x.safetensors"))
    shutil.rmtree(out)


def test_adapter_with_modules_to_save_is_refused(work):
    a = build_tiny_adapter(work / "llada" / "ckpt", work / "lora-mts")
    cfg = json.loads((a / "adapter_config.json").read_text())
    cfg["modules_to_save"] = ["lm_head"]
    (a / "adapter_config.json").write_text(json.dumps(cfg))
    expect("adapter_config.json", "modules_to_save", lambda: convert(work / "llada" / "ckpt", work / "o", adapter=a))


def test_tokenizer_far_smaller_than_embedding(work):
    """A padded embedding is normal (LLaDA: 115 rows past the tokenizer); thousands of missing ids are not."""
    from safetensors.torch import load_file, save_file
    d = copy_ckpt(work, "llada", "big-emb")
    cfg = json.loads((d / "config.json").read_text())
    rows = 320 + 2000
    for f in d.glob("model-*.safetensors"):
        t = load_file(str(f))
        for k in list(t):
            if k.endswith("wte.weight") or k.endswith("transformer.ff_out.weight"):
                t[k] = torch.cat([t[k], torch.zeros(rows - t[k].shape[0], t[k].shape[1], dtype=t[k].dtype)]).contiguous()
        save_file(t, str(f))
    cfg.update(embedding_size=rows, vocab_size=rows)
    (d / "config.json").write_text(json.dumps(cfg))
    expect("tokenizer.json", "far fewer ids than rows", lambda: convert(d, work / "o", adapter=work / "llada" / "lora"))
