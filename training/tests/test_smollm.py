"""SmolLM2 adaptation pieces on a tiny random-init LLaMA (not the 135M model: offline and fast)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from edit_dllm.smollm.adapt import AdaptConfig, MaskedDiffusionLM, mdm_loss  # noqa: E402
from edit_dllm.smollm.data import Example, make_example, mask_batch, split_of  # noqa: E402
from edit_dllm.smollm.evaluate import cut_lines, edit_similarity, exact  # noqa: E402
from edit_dllm.smollm.load import make_bidirectional  # noqa: E402
from edit_dllm.smollm.release import merged_state  # noqa: E402
from edit_dllm.smollm.train import TrainConfig, run_loop  # noqa: E402

MASK = 5


def tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, head_dim=8, tie_word_embeddings=True,
                      max_position_embeddings=128, rope_theta=100000.0, rms_norm_eps=1e-5,
                      attn_implementation="sdpa")
    return LlamaForCausalLM(cfg).eval()


def test_causal_mask_removed_position_0_sees_later_tokens():
    m = tiny_llama()
    a = torch.tensor([[1, 2, 3, 4, 6, 7]])
    b = torch.tensor([[1, 2, 3, 4, 6, 9]])  # only the last token differs
    with torch.no_grad():
        causal = (m(a).logits[0, 0] - m(b).logits[0, 0]).abs().max()
        make_bidirectional(m)
        bidir = (m(a).logits[0, 0] - m(b).logits[0, 0]).abs().max()
    assert float(causal) == 0.0          # the AR model: position 0 cannot see position 5
    assert float(bidir) > 1e-4           # opened: it does


def test_shift_rows_and_mask_offset_on_both_tied_sides():
    m = make_bidirectional(tiny_llama())
    mdm = MaskedDiffusionLM(m, MASK, AdaptConfig(shift=True, lora_r=2, lora_alpha=4)).eval()
    with torch.no_grad():
        mdm.mask_delta.copy_(torch.linspace(-1, 1, 32))
        ids = torch.tensor([[1, 2, MASK, 4, MASK]])
        logits = mdm(ids)
        # independent reference: embed by hand with row MASK of the tied matrix moved by the offset
        W = mdm.E.clone()
        W[MASK] += mdm.mask_delta
        h = mdm.body(inputs_embeds=W[ids], use_cache=False).last_hidden_state
        ref = h @ W.T
    assert torch.allclose(logits[0, 0], ref[0, 0], atol=1e-5)     # row 0: its own hidden
    for j in range(1, 5):                                          # row j: hidden j - 1
        assert torch.allclose(logits[0, j], ref[0, j - 1], atol=1e-5)
    rows = torch.tensor([[False, False, True, False, True]])
    assert torch.allclose(mdm(ids, rows=rows), logits[rows], atol=1e-6)


def test_lora_targets_and_trainable_parts():
    mdm = MaskedDiffusionLM(make_bidirectional(tiny_llama()), MASK, AdaptConfig(lora_r=2, lora_alpha=4))
    names = [n for n, p in mdm.named_parameters() if p.requires_grad]
    for kind in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert sum(f".{kind}.lora_B." in n for n in names) == 2     # one per layer
    assert "mask_delta" in names and any("input_layernorm" in n for n in names)
    assert not any(n.endswith("q_proj.base_layer.weight") for n in names)
    sft = MaskedDiffusionLM(make_bidirectional(tiny_llama()), MASK,
                            AdaptConfig(lora_r=2, lora_alpha=4, train_norms=False, train_mask=False,
                                        lora_targets=("q_proj", "k_proj", "v_proj")))
    names = [n for n, p in sft.named_parameters() if p.requires_grad]
    assert len(names) == 2 * 3 * 2 and all(".lora_" in n for n in names)


def test_mask_batch_masks_only_the_response_and_weights_by_one_over_t():
    ids = np.arange(10, 22)
    resp = np.zeros(12, dtype=bool)
    resp[8:] = True
    ex = [Example(ids, resp, "rest_of_line")] * 64
    noisy, target, masked, w = mask_batch(ex, np.random.default_rng(0), MASK)
    assert not masked[:, :8].any() and masked.any(1).all()
    assert (noisy[masked] == MASK).all() and (noisy[~masked] == target[~masked]).all()
    assert (w >= 1.0).all() and (w <= 1000.0 + 1e-9).all()


def test_mdm_loss_by_hand():
    mdm = MaskedDiffusionLM(make_bidirectional(tiny_llama()), MASK, AdaptConfig(shift=False, lora_r=2, lora_alpha=4))
    noisy = torch.tensor([[1, MASK, 3, MASK]])
    target = torch.tensor([[1, 2, 3, 4]])
    masked = noisy == MASK
    with torch.no_grad():
        loss = mdm_loss(mdm, noisy, target, masked, torch.tensor([2.0]), torch.tensor([3]))
        lp = mdm(noisy)[0].log_softmax(-1)
    # 1/t = 2 on both masked positions, 3 response tokens: (2 * (-lp[1,2]) + 2 * (-lp[3,4])) / 3
    assert float(loss) == pytest.approx(float(2 * (-lp[1, 2] - lp[3, 4]) / 3), rel=1e-5)


def test_patterns_put_the_response_where_inference_asks():
    stream = np.arange(1000)
    rng = random.Random(0)
    e = make_example(stream, rng, 96, 16, "rest_of_line")
    assert e.response[-16:].all() and not e.response[:-16].any()
    e = make_example(stream, rng, 96, 16, "infill")
    idx = np.flatnonzero(e.response)
    assert len(idx) == 16 and idx[-1] < 95 and (np.diff(idx) == 1).all()   # contiguous, a suffix follows
    assert make_example(stream, rng, 96, 0, "denoise").response.all()
    with pytest.raises(ValueError, match="unknown pattern"):
        make_example(stream, rng, 96, 16, "fim")


def test_split_holds_out_whole_packages():
    assert split_of(Path("email/message.py")) == "test"
    assert split_of(Path("json/__init__.py")) == "val"
    assert split_of(Path("collections/__init__.py")) == "train"
    assert split_of(Path("emailx.py")) == "train"


def test_metrics_by_hand():
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)   # Levenshtein 3
    assert edit_similarity("", "") == 1.0 and edit_similarity("abc", "") == 0.0
    assert exact("x = 1  ", "x = 1") and not exact("x = 2", "x = 1")
    assert cut_lines("a\nb\nc", 2) == "a\nb"


def test_merged_weights_equal_the_lora_model():
    base = tiny_llama(seed=1)
    base_state = {k: v.clone() for k, v in base.state_dict().items() if k != "lm_head.weight"}
    mdm = MaskedDiffusionLM(make_bidirectional(base), MASK, AdaptConfig(shift=True, lora_r=2, lora_alpha=4)).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for n, p in mdm.named_parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        ids = torch.tensor([[1, 2, MASK, 4, MASK, 7]])
        want = mdm(ids)
    merged = merged_state(base_state, mdm.trainable_state(), 4, 2, MASK)
    ref = make_bidirectional(tiny_llama(seed=2))
    ref.load_state_dict(merged, strict=False)
    ref.tie_weights()
    with torch.no_grad():
        h = ref.model(ids).last_hidden_state
        got = torch.cat([h[:, :1], h[:, :-1]], 1) @ ref.model.embed_tokens.weight.T
    assert torch.allclose(got, want, atol=1e-4)
    with pytest.raises(KeyError, match="matches no base weight"):
        merged_state(base_state, {"nonsense.weight": torch.zeros(1)}, 4, 2, MASK)


def test_resume_gives_the_run_an_uninterrupted_one_gives(tmp_path):
    stream = np.random.default_rng(0).integers(6, 64, 4000)
    cfg = TrainConfig(steps=4, batch=2, length=24, lr=1e-3, warmup=2, ckpt_every=2, eval_every=2, eval_windows=2,
                      adapt=AdaptConfig(lora_r=2, lora_alpha=4))

    def fresh():
        torch.manual_seed(0)
        return MaskedDiffusionLM(make_bidirectional(tiny_llama()), MASK, cfg.adapt)

    quiet = lambda *a: None  # noqa: E731
    a = fresh()
    run_loop(cfg, a, stream, stream, tmp_path / "a", quiet)
    b = fresh()
    run_loop(TrainConfig(**{**cfg.__dict__, "steps": 2}), b, stream, stream, tmp_path / "b", quiet)
    b = fresh()
    run_loop(cfg, b, stream, stream, tmp_path / "b", quiet)   # resumes at step 2
    sa, sb = a.trainable_state(), b.trainable_state()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.allclose(sa[k], sb[k], atol=1e-6), k
    lines = [json.loads(x) for x in (tmp_path / "b" / "curve.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 1, 2, 3, 4] and lines[-1]["tokens"] == 4 * 2 * 24


def test_committed_adaptation_merged_and_loaded_by_the_export_core_matches_the_training_model(tmp_path):
    """release.py (fp16 adaptation -> merged HF folder) + arch/ (the core convert.py exports) give the
    training wrapper's logits: the PyTorch half of the bundle golden check, on a tiny model."""
    from dataclasses import replace

    from safetensors.torch import save_file

    from edit_dllm.arch.checkpoint import load_checkpoint
    from edit_dllm.smollm.release import adapted_checkpoint, write_adaptation
    base = tiny_llama(seed=4)
    base_dir = tmp_path / "base"
    base_dir.mkdir()
    save_file({k: v.contiguous() for k, v in base.state_dict().items() if k != "lm_head.weight"},
              str(base_dir / "model.safetensors"))
    cfg = base.config.to_dict()
    cfg["rope_theta"] = 100000.0
    (base_dir / "config.json").write_text(json.dumps(cfg))
    acfg = AdaptConfig(shift=True, lora_r=2, lora_alpha=4)
    mdm = MaskedDiffusionLM(make_bidirectional(base), MASK, acfg).eval()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in mdm.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    state = {k: v.half().float() for k, v in mdm.trainable_state().items()}   # what the fp16 file holds
    mdm.load_trainable_state(state)
    rel = tmp_path / "release"
    write_adaptation(state, {"adapt": {**acfg.to_dict(), "lora_targets": list(acfg.lora_targets)}, "mask_id": MASK}, rel)
    out = adapted_checkpoint(base_dir, rel, tmp_path / "adapted")
    core, spec = load_checkpoint(out)
    assert spec.ids["mask"] == MASK and spec.core.rope_theta == 100000.0
    core.config = replace(core.config, shift=True)
    ids = torch.tensor([[1, 2, MASK, 4, MASK, 7]])
    with torch.no_grad():
        got, _ = core.full(ids)
        want = mdm(ids)
    assert torch.allclose(got, want, atol=1e-4)


def test_build_log_names_the_probe_count_not_every_probe():
    from edit_dllm.smollm.build import short_log_line
    probes = [f"model.layers.{i}.self_attn.{m}_proj" for i in range(30) for m in "qkv"]
    line = "loaded llama (134,515,008 parameters) and the adapter in 2.0 s; probes: " + ", ".join(probes)
    assert len(line) > 2500
    assert short_log_line(line) == ("loaded llama (134,515,008 parameters) and the adapter in 2.0 s; probes: 90 "
                                    "(model.layers.0.self_attn.q_proj ... model.layers.29.self_attn.v_proj)")
    assert short_log_line("exported model.onnx (fp32) in 41.0 s") == "exported model.onnx (fp32) in 41.0 s"
