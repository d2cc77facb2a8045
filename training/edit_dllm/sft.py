"""LoRA SFT stage with the AdamW-evolution recorder attached (the phase EDIT records, paper §2).

peft LoRA (r=8, alpha=16, q/k/v of every block, dropout 0), only LoRA weights trained, AdamW
(0.9, 0.999, eps 1e-8), short linear warmup then constant lr (a constant lr keeps the released
adapter's B proportional to Ū_B, which adapter_metadata.u_from_adapter relies on), weight decay 0.

Writes to <run>/sft/:
  model.pt                      {"config", "state_dict" (peft keys), "lora": {r, alpha, targets}}
                                (the format checkpoint_io.load_peft_model reads)
  adapter/                      peft save_pretrained (adapter_model.safetensors), a "released adapter"
  edit-metadata.safetensors     the recorder's output (full Ū_B included)
  log.jsonl                     loss per task, eval accuracy
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from .recorder import AdamWEvolutionRecorder, default_probe_for
from .tasks import TASKS
from .tokenizer import CharCodec
from .train import (JsonlLog, MixedSampler, TrainConfig, base_model_path, evaluate, load_data, load_model,
                    train_loop)

LORA_TARGETS = ["q_proj", "k_proj", "v_proj"]


def add_lora(model: torch.nn.Module, cfg: TrainConfig):
    from peft import LoraConfig, get_peft_model
    return get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                            target_modules=list(LORA_TARGETS), lora_dropout=0.0))


def run_sft(cfg: TrainConfig, out_dir: Path, codec: CharCodec | None = None) -> Path:
    codec = codec or CharCodec()
    torch.set_num_threads(cfg.threads)
    stage = out_dir / "sft"
    stage.mkdir(parents=True, exist_ok=True)
    base = load_model(base_model_path(cfg, out_dir))
    torch.manual_seed(cfg.seed + 1)
    model = add_lora(base, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.sft_lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    rec = AdamWEvolutionRecorder(model, opt, top_k=4, full_ubar=True, eps_placement="inside-sqrt")
    data = load_data(cfg, codec, "train", cfg.train_limit)
    sampler = MixedSampler(data, cfg.batch, cfg.seed + 1, cfg.batch_mode)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    eval_items = {t: TASKS[t].generate("val", cfg.eval_items) for t in cfg.tasks} if cfg.eval_every else None
    log = JsonlLog(stage / "log.jsonl")
    log.write({"event": "start", "trainable": sum(p.numel() for p in trainable),
               "params": sum(p.numel() for p in model.parameters()), "config": asdict(cfg)})
    sft_cfg = TrainConfig(**{**asdict(cfg), "min_lr_frac": 1.0,  # constant after warmup
                             "eval_every": cfg.sft_steps if cfg.eval_every else 0})
    train_loop(model, opt, sft_cfg, codec, sampler, cfg.sft_steps, cfg.sft_lr, cfg.sft_warmup, log,
               eval_items, gen=gen, after_step=lambda _s: rec.step())
    probe = default_probe_for(rec.modules)
    rec.save(stage / "edit-metadata.safetensors", default_probe=probe)
    model.save_pretrained(str(stage / "adapter"))
    final = stage / "model.pt"
    tmp = final.with_suffix(".tmp")
    torch.save({"config": base.cfg.to_dict(), "state_dict": model.state_dict(),
                "lora": {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "targets": list(LORA_TARGETS)}}, tmp)
    os.replace(tmp, final)
    return final


def load_sft_model(path: Path):
    """The SFT checkpoint as a peft model (base + LoRA), eval mode."""
    from .checkpoint_io import load_peft_model
    model, _ = load_peft_model(path)
    return model


def sft_accuracy(model, codec: CharCodec, cfg: TrainConfig, split: str = "val", n: int = 64) -> dict[str, float]:
    items = {t: TASKS[t].generate(split, n) for t in cfg.tasks}
    return evaluate(model, codec, items, cfg.eval_steps)
