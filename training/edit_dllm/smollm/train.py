"""Masked-diffusion adaptation of SmolLM2 with checkpoint + resume and a learning-curve file.

    python -m edit_dllm.smollm.train --out runs/smollm/adapt --steps 400 [--no-shift] [--threads 1]

Every `--ckpt-every` steps the trainable tensors (LoRA, norms, mask offset), the AdamW state and the step
are written atomically to <out>/checkpoint.pt; a rerun with the same --out resumes from it (the batch of
step s is drawn from a generator seeded by (seed, s), so a resumed run sees the batches an uninterrupted
one would). <out>/curve.jsonl gets one line per step (loss, tokens seen, seconds) and one per evaluation
(held-out val windows: masked loss and one-forward accuracy of the completion / infill responses).
AdamW with linear warmup then a constant rate (a run can be extended without changing its past), grad
clipping 1.0: the recipe that mattered most in FACTS.md's small-model probes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .adapt import LORA_TARGETS, AdaptConfig, MaskedDiffusionLM, mdm_loss
from .data import PATTERNS, Example, make_example, mask_batch, source_files, token_stream
from .load import load_base, mask_id

PATTERN_GEN = {"denoise": 0, "rest_of_line": 16, "span": 32, "infill": 16}


@dataclass
class TrainConfig:
    steps: int = 400
    batch: int = 4
    length: int = 96
    lr: float = 2e-4
    warmup: int = 20
    clip: float = 1.0
    seed: int = 0
    ckpt_every: int = 25
    eval_every: int = 50
    eval_windows: int = 16
    patterns: tuple = PATTERNS
    adapt: AdaptConfig = field(default_factory=AdaptConfig)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["patterns"] = list(self.patterns)
        return d


def batch_for_step(cfg: TrainConfig, stream: np.ndarray, step: int) -> list[Example]:
    rng = random.Random(cfg.seed * 1_000_003 + step)
    out = []
    for i in range(cfg.batch):
        pattern = cfg.patterns[(step * cfg.batch + i) % len(cfg.patterns)]
        out.append(make_example(stream, rng, cfg.length, PATTERN_GEN[pattern], pattern))
    return out


def to_tensors(examples: list[Example], rng: np.random.Generator, mid: int):
    noisy, target, masked, weight = mask_batch(examples, rng, mid)
    resp = np.stack([e.response for e in examples]).sum(1)
    return (torch.from_numpy(noisy), torch.from_numpy(target), torch.from_numpy(masked),
            torch.from_numpy(weight).float(), torch.from_numpy(resp))


def eval_windows(cfg: TrainConfig, val: np.ndarray) -> dict[str, list[Example]]:
    """Fixed held-out windows (val split, seed 12345): the response fully masked, as at inference."""
    rng = random.Random(12345)
    return {p: [make_example(val, rng, cfg.length, PATTERN_GEN[p], p) for _ in range(cfg.eval_windows)]
            for p in ("rest_of_line", "infill")}


@torch.no_grad()
def evaluate(model: MaskedDiffusionLM, windows: dict[str, list[Example]]) -> dict[str, float]:
    """Masked CE and one-forward argmax accuracy on fully masked responses (a cheap learning-curve
    signal; decoding metrics are in evaluate.py)."""
    model.eval()
    out = {}
    for p, exs in windows.items():
        ids = torch.from_numpy(np.stack([e.ids for e in exs]))
        resp = torch.from_numpy(np.stack([e.response for e in exs]))
        noisy = ids.masked_fill(resp, model.mask_id)
        logits = model(noisy, rows=resp).float()
        tgt = ids[resp]
        out[f"{p}_loss"] = float(torch.nn.functional.cross_entropy(logits, tgt))
        out[f"{p}_acc1"] = float((logits.argmax(-1) == tgt).float().mean())
    model.train()
    return out


def save_checkpoint(path: Path, model: MaskedDiffusionLM, opt: torch.optim.Optimizer, step: int, tokens: int,
                    cfg: TrainConfig) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"step": step, "tokens": tokens, "trainable": model.trainable_state(),
                "optimizer": opt.state_dict(), "config": cfg.to_dict()}, tmp)
    os.replace(tmp, path)


def build_model(base_dir: Path, adapt: AdaptConfig) -> tuple[MaskedDiffusionLM, object]:
    hf, tok = load_base(base_dir, bidirectional=True)
    return MaskedDiffusionLM(hf, mask_id(tok), adapt), tok


def train(cfg: TrainConfig, base_dir: Path, data_dir: Path, out: Path, log=print, record: Path | None = None) -> Path:
    """Loads the base (or adapted) checkpoint folder and the stdlib token streams, then run_loop."""
    torch.manual_seed(cfg.seed)
    model, tok = build_model(base_dir, cfg.adapt)
    files = source_files()
    train_stream = token_stream(files["train"], tok, data_dir / "train.npy")
    val_stream = token_stream(files["val"], tok, data_dir / "val.npy")
    return run_loop(cfg, model, train_stream, val_stream, out, log, record)


def run_loop(cfg: TrainConfig, model: MaskedDiffusionLM, train_stream: np.ndarray, val_stream: np.ndarray,
             out: Path, log=print, record: Path | None = None) -> Path:
    """Runs (or resumes) to cfg.steps. With `record`, the AdamW-evolution recorder (recorder.py, Eq 1-4)
    watches every LoRA-B and writes EDIT's metadata there at the end, and the peft adapter is saved to
    <out>/adapter (the recorder's sums are not checkpointed: a recorded SFT runs uninterrupted)."""
    out.mkdir(parents=True, exist_ok=True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.999), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / cfg.warmup))
    ckpt = out / "checkpoint.pt"
    step, tokens = 0, 0
    if ckpt.exists() and record is not None:
        raise ValueError(f"{ckpt} exists: a recorded SFT cannot resume (the recorder's running sums are not "
                         f"checkpointed); delete {out} to rerun it")
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        if AdaptConfig(**state["config"]["adapt"]).to_dict() != cfg.adapt.to_dict():
            raise ValueError(f"{ckpt} was written with adapt config {state['config']['adapt']}, this run asks for "
                             f"{cfg.adapt.to_dict()}: use another --out or the same flags")
        model.load_trainable_state(state["trainable"])
        opt.load_state_dict(state["optimizer"])
        step, tokens = state["step"], state["tokens"]
        with warnings.catch_warnings():   # replaying the schedule to `step` (no optimizer step needed)
            warnings.simplefilter("ignore")
            for _ in range(step):
                sched.step()
        log(f"resumed from {ckpt} at step {step} ({tokens} tokens)")
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    curve = (out / "curve.jsonl").open("a")
    windows = eval_windows(cfg, val_stream)
    n_train = sum(p.numel() for p in params)
    log(f"trainable {n_train:,} of {sum(p.numel() for p in model.parameters()):,} parameters")
    if step == 0:
        rec = {"step": 0, "tokens": 0, "eval": evaluate(model, windows)}
        curve.write(json.dumps(rec) + "\n"); curve.flush(); log(rec)
    rec_ = None
    if record is not None:
        from ..recorder import AdamWEvolutionRecorder
        rec_ = AdamWEvolutionRecorder(model.peft, opt, top_k=4, full_ubar=True)
    model.train()
    while step < cfg.steps:
        t0 = time.time()
        exs = batch_for_step(cfg, train_stream, step)
        noisy, target, masked, weight, resp = to_tensors(exs, np.random.default_rng([cfg.seed, step]), model.mask_id)
        loss = mdm_loss(model, noisy, target, masked, weight, resp)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.clip)
        opt.step()
        if rec_ is not None:
            rec_.step()
        sched.step(); opt.zero_grad(set_to_none=True)
        step += 1
        tokens += int(noisy.numel())
        rec = {"step": step, "tokens": tokens, "loss": round(float(loss.detach()), 4), "gnorm": round(float(gnorm), 3),
               "s": round(time.time() - t0, 2)}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            rec["eval"] = evaluate(model, windows)
        curve.write(json.dumps(rec) + "\n"); curve.flush()
        if step % 10 == 0 or "eval" in rec:
            log(rec)
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            save_checkpoint(ckpt, model, opt, step, tokens, cfg)
    curve.close()
    if rec_ is not None:
        rec_.save(record)
        model.peft.save_pretrained(str(out / "adapter"))
        log(f"EDIT metadata -> {record}; adapter -> {out / 'adapter'}")
    return ckpt


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="runs/smollm/base", type=Path, help="converted base (load.convert_gguf)")
    ap.add_argument("--data", default="runs/smollm/data", type=Path, help="token cache folder")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--no-shift", action="store_true")
    ap.add_argument("--lora-targets", default=",".join(LORA_TARGETS))
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--frozen-extras", action="store_true", help="train only the LoRA (no norms, no mask offset)")
    ap.add_argument("--record", type=Path, help="attach the EDIT recorder; write its metadata here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--ckpt-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = TrainConfig(steps=a.steps, batch=a.batch, length=a.length, lr=a.lr, eval_every=a.eval_every,
                      ckpt_every=a.ckpt_every, seed=a.seed, patterns=tuple(a.patterns.split(",")),
                      adapt=AdaptConfig(shift=not a.no_shift, lora_r=a.rank, lora_alpha=2 * a.rank,
                                        train_norms=not a.frozen_extras, train_mask=not a.frozen_extras,
                                        lora_targets=tuple(a.lora_targets.split(","))))
    train(cfg, a.base, a.data, a.out, log=lambda m: print(m, flush=True), record=a.record)


if __name__ == "__main__":
    main()
