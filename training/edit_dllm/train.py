"""Masked-diffusion training: LLaDA loss, mixed-task batches, a greedy monitoring sampler.

Two stages share this module: `pretrain` (all weights) and `sft` (LoRA on q/k/v only, with the
AdamW-evolution recorder attached, in build.py). The monitoring sampler here is a simple greedy
low-confidence-remasking loop for accuracy logs; the contract's reference sampler lives in
sampler.py.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .model import POSITIONS, MaskedDiffusionLM, ModelConfig
from .tasks import TASKS, Item, render_prompt
from .tokenizer import CharCodec

GEN_LENGTH = 64
BLOCK_LENGTH = 32
MASK_EPS = 1e-3  # LLaDA: p_mask = (1 - eps) t + eps, so no position has zero mask probability


@dataclass
class TrainConfig:
    name: str
    d_model: int = 160
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 432
    positions: str = "learned"   # ModelConfig.positions: "learned" | "rope"
    batch: int = 96
    batch_mode: str = "rows"   # MixedSampler mode
    pretrain_steps: int = 3600
    lr: float = 1e-3
    warmup: int = 200
    min_lr_frac: float = 0.1
    weight_decay: float = 0.0
    sft_steps: int = 600
    sft_lr: float = 1e-3
    sft_warmup: int = 30
    lora_r: int = 8
    lora_alpha: int = 16
    eval_every: int = 500
    eval_items: int = 64      # per task, from val
    eval_steps: int = 32      # monitoring sampler denoising steps over gen_length
    ckpt_every: int = 250
    threads: int = 2
    seed: int = 0
    train_limit: int | None = None   # items per task (None: the task's full train split)
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    pretrain_weights: dict[str, int] = field(default_factory=dict)   # task -> batches per cycle (default 1)
    # Second full-weight stage ("refine"): continues from the pretrained weights with a fresh
    # optimizer and schedule, weighting tasks (batches per cycle) towards those not yet learned.
    refine_steps: int = 0
    refine_lr: float = 1e-3
    refine_warmup: int = 100
    refine_weights: dict[str, int] = field(default_factory=dict)   # task -> batches per cycle (default 1)
    # Third full-weight stage ("refine2"), from refine's weights: a task format changed after refine.
    refine2_steps: int = 0
    refine2_lr: float = 5e-4
    refine2_warmup: int = 100
    refine2_weights: dict[str, int] = field(default_factory=dict)
    # Fourth ("refine3"), from refine2's weights: more arith, whose later steps learn slowly.
    refine3_steps: int = 0
    refine3_lr: float = 5e-4
    refine3_warmup: int = 100
    refine3_weights: dict[str, int] = field(default_factory=dict)

    def model_config(self, vocab_size: int, mask_id: int, pad_id: int) -> ModelConfig:
        return ModelConfig(vocab_size=vocab_size, mask_id=mask_id, pad_id=pad_id, d_model=self.d_model,
                           n_layers=self.n_layers, n_heads=self.n_heads, d_ff=self.d_ff,
                           positions=self.positions)


CONFIGS: dict[str, TrainConfig] = {
    # The embedded model: 0.84 M parameters, sized for ~70 min of pretrain + SFT on 2 shared CPU
    # cores (measured 0.7-1.5 s/step at batch 64 x ~114 tokens, 2 threads, under contention).
    # pretrain_steps: the embedded run started with 3200 and "rows" batches, was resumed at step 2250
    # with 4000 and "cycle" batches (~20 % cheaper steps; no accuracy yet), and at 2750 with 5000
    # (copying had started to form at 2500: the jump needs more steps than one task alone).
    # refine: 12,000 steps (~70 min at 0.35 s/step, 2 threads, uncontended), batches per cycle
    # arith 3, code 3, sudoku 2, countdown 2. Arith/sudoku/code formats changed after pretraining
    # (fixed-width arith prompts, grid-only sudoku answers, context-predictable code completions) and
    # pretraining had not learned them. Countdown, already learned, needs its share: the jump back to
    # lr 1e-3 knocked it from 31 % to 2 % within 500 steps in a trial run with weight 1 of 9.
    # refine2: arith got written carries after refine (it had copied operands but learned no carry
    # chain: 0 %); most batches arith, a lower lr and countdown's share to keep what refine learned.
    # The embedded run started with 6000 steps and weights arith 4 and was resumed at step 4000 with
    # 11,000 and arith 5: at 3,750 it had learned the carries (~95 %) but no digit sum (chance).
    # refine3: at the end of refine2 the first step's digit sums were learned, the later steps' only
    # partly (each step sits at its own absolute positions); more arith batches, same lr.
    "default": TrainConfig(name="default", d_model=128, n_layers=4, n_heads=4, d_ff=344, batch=64,
                           batch_mode="cycle", pretrain_steps=5000, weight_decay=0.01, eval_every=1000,
                           refine_steps=12000, refine_lr=1e-3, refine_warmup=100,
                           refine_weights={"arith": 3, "code": 3, "sudoku": 2, "countdown": 2},
                           refine2_steps=11000, refine2_lr=5e-4, refine2_warmup=100,
                           refine2_weights={"arith": 5, "countdown": 2, "sudoku": 1, "code": 1},
                           refine3_steps=7000, refine3_lr=5e-4, refine3_warmup=100,
                           refine3_weights={"arith": 6, "countdown": 2, "sudoku": 1, "code": 1}),
    # Experiment, not shipped: one stage on the final formats with rotary positions, sized for the
    # 2 h budget: 12,000 steps (~85 min at 0.42 s/step, 2 threads) + SFT, export, calibration,
    # golden, report (~14 min). Batches per cycle: arith and countdown 3, sudoku 2, code 1. The one
    # run so far was stopped at 6,500 steps with arith at 0 % (training/README.md, "Rotary positions").
    "rope": TrainConfig(name="rope", d_model=128, n_layers=4, n_heads=4, d_ff=344, positions="rope", batch=64,
                        batch_mode="cycle", pretrain_steps=12000, weight_decay=0.01, eval_every=1000,
                        pretrain_weights={"arith": 3, "countdown": 3, "sudoku": 2, "code": 1}),
    # Runs the whole pipeline in seconds (tests).
    "micro": TrainConfig(name="micro", d_model=32, n_layers=2, n_heads=2, d_ff=64, batch=8,
                         pretrain_steps=12, warmup=4, sft_steps=6, sft_warmup=2, eval_every=6,
                         eval_items=4, eval_steps=8, ckpt_every=0, threads=1, train_limit=64),
}


# ---------------------------------------------------------------------------------------------
# data

@dataclass
class Encoded:
    task: str
    prompt: list[int]   # template-applied prompt ids
    answer: list[int]   # answer ids padded with EOS to GEN_LENGTH


def encode_items(items: list[Item], codec: CharCodec) -> list[Encoded]:
    out = []
    for it in items:
        ans = codec.encode(it.answer)
        if len(ans) > GEN_LENGTH:
            raise ValueError(f"{it.task} answer longer than {GEN_LENGTH}: {it.answer!r}")
        out.append(Encoded(it.task, codec.encode(render_prompt(it.task, it.prompt)),
                           ans + [codec.ids.eos] * (GEN_LENGTH - len(ans))))
    return out


def collate(batch: list[Encoded], pad_id: int) -> tuple[torch.Tensor, int]:
    """Left-pad prompts to the batch's longest; the answer region is the last GEN_LENGTH columns."""
    plen = max(len(e.prompt) for e in batch)
    rows = [[pad_id] * (plen - len(e.prompt)) + e.prompt + e.answer for e in batch]
    return torch.tensor(rows, dtype=torch.int64), plen


class MixedSampler:
    """Endless mixed-task batches (seeded).

    mode "rows": each row picks a task uniformly, then an item.
    mode "cycle": each batch holds ONE task, tasks cycling in a reshuffled order every len(tasks)
    steps, so any window of len(tasks) steps is an even mix. Cheaper on CPU: a batch is padded
    only to its own task's longest prompt (code prompts are ~3x the others'), ~20 % fewer tokens.
    """

    def __init__(self, data: dict[str, list[Encoded]], batch: int, seed: int, mode: str = "rows",
                 weights: dict[str, int] | None = None) -> None:
        if mode not in ("rows", "cycle"):
            raise ValueError(f"batch mode must be 'rows' or 'cycle', got {mode!r}")
        weights = weights or {}
        unknown = sorted(set(weights) - set(data))
        if unknown or any(type(w) is not int or w < 0 for w in weights.values()):
            raise ValueError(f"task weights must be non-negative integers for tasks {sorted(data)}; got {weights}")
        self.data, self.batch, self.mode = data, batch, mode
        # A task of weight w appears w times per cycle (cycle mode) or w times as often (rows mode).
        self.names = [t for t in sorted(data) for _ in range(weights.get(t, 1))]
        if not self.names:
            raise ValueError("task weights leave no task to train on")
        self.rng = random.Random(seed)
        self._queue: list[str] = []

    def next(self) -> list[Encoded]:
        if self.mode == "cycle":
            if not self._queue:
                self._queue = self.names[:]
                self.rng.shuffle(self._queue)
            items = self.data[self._queue.pop()]
            return [items[self.rng.randrange(len(items))] for _ in range(self.batch)]
        out = []
        for _ in range(self.batch):
            items = self.data[self.rng.choice(self.names)]
            out.append(items[self.rng.randrange(len(items))])
        return out


def load_data(cfg: TrainConfig, codec: CharCodec, split: str, limit: int | None) -> dict[str, list[Encoded]]:
    return {t: encode_items(TASKS[t].generate(split, limit), codec) for t in cfg.tasks}


# ---------------------------------------------------------------------------------------------
# loss

def llada_loss(model: torch.nn.Module, ids: torch.Tensor, plen: int, mask_id: int,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """LLaDA loss on the answer region: t ~ U(0,1) per sequence, p = (1-eps)t + eps, mask each
    answer token with prob p, CE on masked tokens weighted 1/p, normalised by the answer length
    (GEN_LENGTH, EOS padding included, as LLaDA's SFT) and the batch size.
    Returns (scalar loss, per-row loss [B]) for per-task logging."""
    b = ids.shape[0]
    t = torch.rand(b, 1, generator=gen)
    p = (1 - MASK_EPS) * t + MASK_EPS
    ans_mask = torch.rand(b, GEN_LENGTH, generator=gen) < p
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[:, plen:] = ans_mask
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)
    logits = model(noisy)
    ce = F.cross_entropy(logits[masked], ids[masked], reduction="none")
    weights = (1.0 / p.expand(b, GEN_LENGTH))[ans_mask]
    per_tok = torch.zeros(b, GEN_LENGTH, dtype=ce.dtype)
    per_tok[ans_mask] = ce * weights
    per_row = per_tok.sum(1) / GEN_LENGTH
    return per_row.mean(), per_row.detach()


def lr_factor(step: int, total: int, warmup: int, min_frac: float) -> float:
    """Linear warmup, then cosine decay to min_frac (step is 0-based)."""
    if step < warmup:
        return (step + 1) / warmup
    prog = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * prog))


# ---------------------------------------------------------------------------------------------
# monitoring sampler (greedy, low-confidence remasking, semi-autoregressive blocks)

@torch.no_grad()
def greedy_generate(model: torch.nn.Module, prompts: list[list[int]], mask_id: int, pad_id: int,
                    steps: int = 32, gen_length: int = GEN_LENGTH, block_length: int = BLOCK_LENGTH,
                    ) -> torch.Tensor:
    """Returns generated ids [B, gen_length]. Each step commits the most confident masked tokens
    of the current block (uniform counts per step); no early stop."""
    model.eval()
    plen = max(len(p) for p in prompts)
    rows = [[pad_id] * (plen - len(p)) + p + [mask_id] * gen_length for p in prompts]
    x = torch.tensor(rows, dtype=torch.int64)
    n_blocks = gen_length // block_length
    per_block = steps // n_blocks
    for blk in range(n_blocks):
        lo, hi = plen + blk * block_length, plen + (blk + 1) * block_length
        base, rem = divmod(block_length, per_block)
        for s in range(per_block):
            k = base + (1 if s < rem else 0)
            logits = model(x)[:, lo:hi].double()
            probs = torch.softmax(logits, -1)
            conf, x0 = probs.max(-1)
            still = x[:, lo:hi] == mask_id
            conf = torch.where(still, conf, torch.full_like(conf, -1.0))
            # stable sort: ties go to the lower position
            order = torch.sort(conf, dim=1, descending=True, stable=True).indices[:, :k]
            sel = torch.zeros_like(still)
            sel.scatter_(1, order, True)
            sel &= still
            blockx = x[:, lo:hi]
            x[:, lo:hi] = torch.where(sel, x0, blockx)
    return x[:, plen:]


def evaluate(model: torch.nn.Module, codec: CharCodec, items: dict[str, list[Item]], steps: int) -> dict[str, float]:
    """Accuracy per task with the task's own checker."""
    flat = [it for t in sorted(items) for it in items[t]]
    prompts = [codec.encode(render_prompt(it.task, it.prompt)) for it in flat]
    out = greedy_generate(model, prompts, codec.ids.mask, codec.ids.pad, steps=steps)
    hits: dict[str, list[bool]] = {}
    for it, row in zip(flat, out.tolist()):
        hits.setdefault(it.task, []).append(TASKS[it.task].check(it, codec.decode(row)))
    return {t: sum(h) / len(h) for t, h in hits.items()}


# ---------------------------------------------------------------------------------------------
# training loop (shared by pretrain and SFT)

class JsonlLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, rec: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")


def train_loop(model: torch.nn.Module, optimizer: torch.optim.Optimizer, cfg: TrainConfig, codec: CharCodec,
               sampler: MixedSampler, total_steps: int, lr: float, warmup: int, log: JsonlLog,
               eval_items: dict[str, list[Item]] | None, start_step: int = 0,
               gen: torch.Generator | None = None,
               after_step: Callable[[int], None] | None = None,
               checkpoint: Callable[[int], None] | None = None, log_every: int = 25) -> None:
    gen = gen or torch.Generator().manual_seed(cfg.seed)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    acc_loss: dict[str, list[float]] = {}
    t0 = time.time()
    for step in range(start_step, total_steps):
        model.train()
        for g in optimizer.param_groups:
            g["lr"] = lr * lr_factor(step, total_steps, warmup, cfg.min_lr_frac)
        batch = sampler.next()
        ids, plen = collate(batch, codec.ids.pad)
        loss, per_row = llada_loss(model, ids, plen, codec.ids.mask, gen)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if after_step is not None:
            after_step(step)   # the recorder reads AdamW state + grads here, before zero_grad
        optimizer.zero_grad(set_to_none=True)
        for e, l in zip(batch, per_row.tolist()):
            acc_loss.setdefault(e.task, []).append(l)
        done = step + 1
        if done % log_every == 0 or done == total_steps:
            rec = {"step": done, "lr": optimizer.param_groups[0]["lr"], "gnorm": float(gnorm),
                   "loss": sum(sum(v) for v in acc_loss.values()) / max(1, sum(len(v) for v in acc_loss.values())),
                   "task_loss": {t: sum(v) / len(v) for t, v in sorted(acc_loss.items())},
                   "elapsed_s": round(time.time() - t0, 1)}
            log.write(rec)
            acc_loss = {}
        if eval_items and cfg.eval_every and (done % cfg.eval_every == 0 or done == total_steps):
            te = time.time()
            acc = evaluate(model, codec, eval_items, cfg.eval_steps)
            log.write({"step": done, "eval_acc": acc, "eval_s": round(time.time() - te, 1)})
        if checkpoint is not None and cfg.ckpt_every and done % cfg.ckpt_every == 0 and done < total_steps:
            checkpoint(done)


def build_model(cfg: TrainConfig, codec: CharCodec) -> MaskedDiffusionLM:
    torch.manual_seed(cfg.seed)
    return MaskedDiffusionLM(cfg.model_config(codec.vocab_size, codec.ids.mask, codec.ids.pad))


def pretrain(cfg: TrainConfig, out_dir: Path, codec: CharCodec | None = None) -> Path:
    """Full-weight pretraining; resumes from out_dir/pretrain/ckpt.pt. Returns the final model path."""
    codec = codec or CharCodec()
    return _full_weight_stage(cfg, out_dir, "pretrain", build_model(cfg, codec), codec, cfg.pretrain_steps,
                              cfg.lr, cfg.warmup, cfg.pretrain_weights or None, cfg.seed)


LATER_STAGES = ("refine", "refine2", "refine3")   # in order; each continues from the one before


@dataclass(frozen=True)
class LaterStage:
    """A full-weight stage after pretrain: continues from `source`'s model.pt with a fresh optimizer
    and schedule and task weights."""
    name: str
    source: str
    steps: int
    lr: float
    warmup: int
    weights: dict[str, int]
    seed: int


def later_stage(cfg: TrainConfig, name: str) -> LaterStage:
    """Stage `name` from the config's `<name>_*` fields; it continues from the stage listed before it
    (the first from pretrain) and draws batches with seed cfg.seed + 2 + its index."""
    if name not in LATER_STAGES:
        raise ValueError(f"unknown full-weight stage {name!r}; expected one of {', '.join(LATER_STAGES)}")
    i = LATER_STAGES.index(name)
    return LaterStage(name, LATER_STAGES[i - 1] if i else "pretrain", getattr(cfg, f"{name}_steps"),
                      getattr(cfg, f"{name}_lr"), getattr(cfg, f"{name}_warmup"), getattr(cfg, f"{name}_weights"),
                      cfg.seed + 2 + i)


def refine(cfg: TrainConfig, out_dir: Path, codec: CharCodec | None = None, stage: str = "refine") -> Path:
    """Runs the later full-weight stage `stage` (`later_stage`); resumes from its own ckpt.pt.
    Returns the final model path."""
    codec = codec or CharCodec()
    st = later_stage(cfg, stage)
    if st.source != "pretrain" and not later_stage(cfg, st.source).steps:
        raise ValueError(f"config {cfg.name!r}: {st.name} continues from {st.source}'s weights, "
                         f"but {st.source}_steps is 0")
    model = load_model(out_dir / st.source / "model.pt")
    return _full_weight_stage(cfg, out_dir, st.name, model, codec, st.steps, st.lr, st.warmup, st.weights, st.seed)


def base_model_path(cfg: TrainConfig, out_dir: Path) -> Path:
    """The full-weight model SFT starts from: that of the last full-weight stage the config has."""
    stage = next((n for n in reversed(LATER_STAGES) if later_stage(cfg, n).steps), "pretrain")
    return out_dir / stage / "model.pt"


def _full_weight_stage(cfg: TrainConfig, out_dir: Path, name: str, model: MaskedDiffusionLM, codec: CharCodec,
                       steps: int, lr: float, warmup: int, weights: dict[str, int] | None, seed: int) -> Path:
    torch.set_num_threads(cfg.threads)
    stage = out_dir / name
    stage.mkdir(parents=True, exist_ok=True)
    final = stage / "model.pt"
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=cfg.weight_decay)
    data = load_data(cfg, codec, "train", cfg.train_limit)
    sampler = MixedSampler(data, cfg.batch, seed, cfg.batch_mode, weights)
    gen = torch.Generator().manual_seed(seed)
    start = 0
    ckpt_path = stage / "ckpt.pt"
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start = ck["step"]
        if ck.get("sampler_mode", "rows") == sampler.mode:
            sampler.rng.setstate(ck["sampler_rng"])
        else:  # resumed with another batch mode: a fresh, still deterministic stream
            sampler.rng.seed(seed + start)
        gen.set_state(ck["gen"])

    def checkpoint(step: int) -> None:
        tmp = stage / "ckpt.pt.tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "sampler_rng": sampler.rng.getstate(), "sampler_mode": sampler.mode,
                    "gen": gen.get_state()}, tmp)
        os.replace(tmp, ckpt_path)

    eval_items = {t: TASKS[t].generate("val", cfg.eval_items) for t in cfg.tasks} if cfg.eval_every else None
    log = JsonlLog(stage / "log.jsonl")
    log.write({"event": "start", "step": start, "params": model.num_parameters(), "config": asdict(cfg)})
    train_loop(model, opt, cfg, codec, sampler, steps, lr, warmup, log, eval_items,
               start_step=start, gen=gen, checkpoint=checkpoint)
    save_model(model, final)
    return final


def save_model(model: MaskedDiffusionLM, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"config": model.cfg.to_dict(), "state_dict": model.state_dict()}, tmp)
    os.replace(tmp, path)


def load_model(path: Path) -> MaskedDiffusionLM:
    ck = torch.load(path, weights_only=False)
    model = MaskedDiffusionLM(ModelConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    return model


def main(argv: list[str] | None = None) -> None:
    """`python -m edit_dllm.train --config default --out runs/default`: the pretrain stage alone.
    With --tasks/--steps/--positions it is a learnability probe: a fresh model on a few tasks,
    evaluated (greedy, val) every --eval-every steps into OUT/pretrain/log.jsonl."""
    import argparse
    from dataclasses import replace
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="default")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tasks", default=None, help=f"comma-separated subset of {','.join(TASKS)}")
    ap.add_argument("--steps", type=int, default=None, help="pretrain steps (default: the config's)")
    ap.add_argument("--positions", choices=POSITIONS, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--eval-every", type=int, default=None)
    a = ap.parse_args(argv)
    cfg = CONFIGS[a.config]
    changes: dict = {}
    if a.tasks:
        tasks = a.tasks.split(",")
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown:
            ap.error(f"unknown task(s) {unknown}; known: {sorted(TASKS)}")
        changes["tasks"] = tasks
        changes["pretrain_weights"] = {t: w for t, w in cfg.pretrain_weights.items() if t in tasks}
    for key, val in (("pretrain_steps", a.steps), ("positions", a.positions), ("threads", a.threads),
                     ("eval_every", a.eval_every)):
        if val is not None:
            changes[key] = val
    path = pretrain(replace(cfg, **changes), a.out)
    print(f"pretrained model: {path}")


if __name__ == "__main__":
    main()
