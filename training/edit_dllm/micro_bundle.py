"""The micro bundle: a tiny model trained for a few seconds, for engine tests (test/fixtures/micro-bundle).

It is a fixture, not a useful model: 2 layers of width 32, the real char tokenizer, a few dozen
full-weight steps on arith + countdown, then a few LoRA (q/k/v, r=4) steps with an inline AdamW
evolution recorder (Eq 1-4; u, subspace k=2, full U-bar, grad RMS), exported with all Q/K/V probes.
Deterministic for a fixed torch version (seeded, 1 thread).

    python -m edit_dllm.micro_bundle --out ../test/fixtures/micro-bundle
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .export import export_bundle, resolve_probes, clean_module_name
from .model import MaskedDiffusionLM, ModelConfig
from .reference_weights import save_reference_weights
from .tasks import get_task, render_prompt
from .tokenizer import CharCodec, build as build_tokenizer, save as save_tokenizer

GEN = 64
MICRO_TASKS = ("arith", "countdown")


def _batch(codec: CharCodec, items, rng: random.Random, n: int) -> tuple[torch.Tensor, int]:
    rows = [items[rng.randrange(len(items))] for _ in range(n)]
    enc = [(codec.encode(render_prompt(it.task, it.prompt)), codec.encode(it.answer)) for it in rows]
    plen = max(len(p) for p, _ in enc)
    out = [[codec.ids.pad] * (plen - len(p)) + p + (a + [codec.ids.eos] * (GEN - len(a)))[:GEN] for p, a in enc]
    return torch.tensor(out, dtype=torch.int64), plen


def _loss(model, ids: torch.Tensor, plen: int, mask_id: int, g: torch.Generator) -> torch.Tensor:
    """LLaDA loss on the answer region (t ~ U(0,1), CE on masked tokens weighted 1/t)."""
    b = ids.shape[0]
    t = torch.rand(b, 1, generator=g) * 0.999 + 0.001
    m = torch.zeros_like(ids, dtype=torch.bool)
    m[:, plen:] = torch.rand(b, GEN, generator=g) < t
    logits = model(torch.where(m, torch.full_like(ids, mask_id), ids))
    ce = F.cross_entropy(logits[m], ids[m], reduction="none")
    w = (1.0 / t.expand(b, GEN))[m[:, plen:]]
    return (ce * w).sum() / (b * GEN)


def record_metadata(model, opt, steps_fn, k: int, betas, eps: float, default_probe: str) -> tuple[dict, dict]:
    """Run the LoRA steps and average U_k = M_k / sqrt(V_k + eps) (Eq 2, raw moments) over them (Eq 3)."""
    lora_b = {clean_module_name(n.removesuffix(".weight")): p for n, p in model.named_parameters() if ".lora_B." in n}
    acc = {m: torch.zeros_like(p, dtype=torch.float64) for m, p in lora_b.items()}
    rms = {m: [] for m in lora_b}
    n_steps = 0
    for _ in steps_fn():
        for m, p in lora_b.items():
            rms[m].append(float(p.grad.pow(2).mean().sqrt()))
        opt.step()
        for m, p in lora_b.items():
            st = opt.state[p]
            # torch's AdamW keeps raw (not bias-corrected) moments: exactly Eq 1's M and V.
            acc[m] += (st["exp_avg"].double() / torch.sqrt(st["exp_avg_sq"].double() + eps))
        opt.zero_grad(set_to_none=True)
        n_steps += 1
    tensors, modules = {}, sorted(lora_b)
    for m in modules:
        ubar = acc[m] / n_steps                                   # Eq 3, [d_out, r]
        u = ubar.pow(2).sum(1).sqrt()                             # Eq 4
        U, _, _ = torch.linalg.svd(ubar, full_matrices=False)
        tensors[f"{m}.u"] = u.float().contiguous()
        tensors[f"{m}.subspace"] = U[:, :k].float().contiguous()
        tensors[f"{m}.ubar"] = ubar.float().contiguous()
        r = torch.tensor(rms[m], dtype=torch.float64)
        tensors[f"{m}.grad_rms"] = torch.tensor([float(r.mean()), float(r.std()) if len(r) > 1 else 0.0])
    d_out, rank = tensors[f"{modules[0]}.ubar"].shape
    header = {"format": "edit-metadata/1", "modules": json.dumps(modules), "d_out": str(d_out),
              "rank": str(rank), "k": str(k), "K": str(n_steps), "betas": json.dumps(list(betas)),
              "eps": repr(eps), "eps_placement": "inside-sqrt", "bias_correction": "false",
              "lr_schedule": json.dumps({"kind": "constant"}), "default_probe": default_probe}
    return tensors, header


def build_micro(out: Path, pretrain_steps: int = 60, lora_steps: int = 12, seed: int = 0) -> dict:
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    tok = build_tokenizer()
    codec = CharCodec(tok)
    cfg = ModelConfig(vocab_size=codec.vocab_size, mask_id=codec.ids.mask, pad_id=codec.ids.pad, d_model=32,
                      n_layers=2, n_heads=2, d_ff=64, max_len=128)
    model = MaskedDiffusionLM(cfg)
    items = [it for t in MICRO_TASKS for it in get_task(t).generate("train", 400)]
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(pretrain_steps):
        ids, plen = _batch(codec, items, rng, 32)
        _loss(model, ids, plen, cfg.mask_id, g).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj"],
                                          lora_dropout=0.0))
    betas, eps = (0.9, 0.999), 1e-8
    lopt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-2, betas=betas, eps=eps)

    def steps():
        for _ in range(lora_steps):
            ids, plen = _batch(codec, items, rng, 32)
            _loss(pm, ids, plen, cfg.mask_id, g).backward()
            yield

    default_probe = clean_module_name(resolve_probes(pm, "default")[0])
    tensors, header = record_metadata(pm, lopt, steps, k=2, betas=betas, eps=eps, default_probe=default_probe)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".build"
    tmp.mkdir(exist_ok=True)
    save_tokenizer(tok, tmp / "tokenizer.json")
    save_file(tensors, str(tmp / "edit-metadata.safetensors"), metadata=header)
    pm.eval()
    tasks = {t: {"template": get_task(t).TEMPLATE} for t in MICRO_TASKS}
    bundle = export_bundle(
        pm, out, name="micro-bundle", tokenizer_path=tmp / "tokenizer.json",
        metadata_path=tmp / "edit-metadata.safetensors", ids=codec.ids.to_dict(), vocab_size=codec.vocab_size,
        model_info={"d_model": cfg.d_model, "n_layers": cfg.n_layers, "params": sum(p.numel() for p in pm.parameters())},
        tasks=tasks, default_task="arith", probes="all-qkv")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    save_reference_weights(pm, out)  # <out>/reference/: the bench's PyTorch speed baseline
    return {"bundle": bundle, "model": pm}


def main() -> None:
    from .golden import cross_check_onnx, default_prompts, write_golden
    from .sampler import Bundle, TorchForward
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="../test/fixtures/micro-bundle")
    ap.add_argument("--golden", default="../test/fixtures/golden/micro-bundle")
    a = ap.parse_args()
    res = build_micro(Path(a.out))
    for old in Path(a.golden).glob("*.json") if Path(a.golden).exists() else []:
        old.unlink()
    fwd = TorchForward(res["model"], "all-qkv")
    paths = write_golden(a.out, fwd, default_prompts(Bundle.load(a.out), 2), a.golden)
    print(f"bundle {a.out}; {len(paths)} golden traces in {a.golden}")
    rep = cross_check_onnx(a.out, a.golden)
    print("ONNX cross-check:", "identical" if not rep else json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
