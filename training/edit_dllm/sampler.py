"""PyTorch reference sampler: LLaDA's block-wise low-confidence remasking with EDIT stop rules.

Implements exactly docs/bundle-contract.md "Sampler semantics" (the TypeScript engine implements the
same; test/fixtures/golden pins both). Public API:

    schedule_counts(block_length, steps_per_block, schedule) -> list[int]
    TorchForward(model, probes="all-qkv")          # ids [B,S] -> (logits, {module: act})
    generate(forward, prompts, *, ids, gen, rule_factory, ...) -> list[trace dict]
    Bundle.load(dir) / bundle.rule(name, params, task) / bundle.encode_prompt(task, prompt)

Traces are dicts with the camelCase fields of protocol/trace.ts (GenerationTrace); keys starting
with "_" are Python-only extras (used by calibrate.py) and are dropped by `public_trace`.

Choices the contract leaves open (the TS engine must match):
- A block whose positions are all committed before its budget ends there (endedBy "all-committed",
  no further forwards); never happens with the uniform schedule when steps_per_block <= block_length.
- Polish forwards are not shown to the stop rule (their sims/kl/counter/margin are null); a polish
  forward with nothing left masked is skipped.
- Batches are left-padded with the pad id; positions in traces are those of the unpadded sequence.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from .sampler_rules import BlockInfo, EditMetadata, StepView, StopRule, make_rule

Forward = Callable[[torch.Tensor], "tuple[torch.Tensor, dict[str, torch.Tensor]]"]


class SamplerConfigError(ValueError):
    pass


@dataclass(frozen=True)
class GenConfig:
    gen_length: int = 64
    block_length: int = 32
    steps: int = 32
    schedule: str = "uniform"
    temperature: float = 0.0

    @property
    def num_blocks(self) -> int:
        return self.gen_length // self.block_length

    @property
    def steps_per_block(self) -> int:
        return self.steps // self.num_blocks

    def validate(self) -> None:
        if self.gen_length % self.block_length:
            raise SamplerConfigError(f"gen_length {self.gen_length} must be a multiple of block_length {self.block_length}")
        if self.steps % self.num_blocks:
            raise SamplerConfigError(f"steps {self.steps} must be a multiple of the number of blocks {self.num_blocks}")
        if self.schedule not in ("uniform", "gaussian"):
            raise SamplerConfigError(f"schedule must be 'uniform' or 'gaussian', got {self.schedule!r}")

    @staticmethod
    def from_bundle(gen: Mapping) -> "GenConfig":
        return GenConfig(int(gen["gen_length"]), int(gen["block_length"]), int(gen["steps"]), str(gen["schedule"]))


def schedule_counts(block_length: int, steps: int, schedule: str = "uniform") -> list[int]:
    """Tokens committed per step within a block (contract; uniform = LLaDA's get_num_transfer_tokens)."""
    if steps <= 0:
        raise SamplerConfigError(f"steps per block must be >= 1, got {steps}")
    if schedule == "uniform":
        base, rem = divmod(block_length, steps)
        return [base + (1 if i < rem else 0) for i in range(steps)]
    if schedule == "gaussian":
        mid, sd = (steps - 1) / 2.0, steps / 4.0
        w = [math.exp(-((i - mid) ** 2) / (2 * sd * sd)) for i in range(steps)]
        exact = [block_length * wi / sum(w) for wi in w]
        counts = [math.floor(e) for e in exact]
        left = block_length - sum(counts)
        # Remainder to the largest fractional parts; ties to the earlier step (stable sort).
        order = sorted(range(steps), key=lambda i: -(exact[i] - counts[i]))
        for i in order[:left]:
            counts[i] += 1
        return counts
    raise SamplerConfigError(f"unknown schedule {schedule!r}")


class TorchForward:
    """A PyTorch model (peft LoRA) as a sampler forward: activations are the LoRA-B outputs."""

    def __init__(self, model: torch.nn.Module, probes: str | Sequence[str] = "all-qkv") -> None:
        from .export import ProbedModel, resolve_probes
        self.wrapper = ProbedModel(model.eval(), resolve_probes(model, probes)).eval()
        self.names = self.wrapper.names

    @torch.no_grad()
    def __call__(self, ids: torch.Tensor):
        out = self.wrapper(ids)
        return out[0].float(), {n: a.float() for n, a in zip(self.names, out[1:])}


def _gumbel_x0(logits64: torch.Tensor, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """LLaDA's add_gumbel_noise (float64) followed by argmax."""
    noise = torch.rand(logits64.shape, generator=gen, dtype=torch.float64)
    gumbel = (-torch.log(noise)) ** temperature
    return torch.argmax(logits64.exp() / gumbel, dim=-1)


@dataclass
class _Seq:
    prompt_len: int
    ids: torch.Tensor               # [prompt_len + gen_length] int64, no padding
    rule: StopRule
    gen: torch.Generator | None
    block: int
    end_block: int
    trace: dict
    step: int = 0                   # forwards done in the current block (polish included)
    sched_step: int = 0             # scheduled steps done (t)
    polish_left: int = -1           # -1: not polishing
    polish_i: int = 0
    cur: dict | None = None
    done: bool = False
    rule_ms: float = 0.0
    fwd_ms: float = 0.0
    counts: list[int] = field(default_factory=list)


def _order(conf: np.ndarray, positions: list[int]) -> list[int]:
    """Indices by confidence descending, ties to the lower position (contract)."""
    return sorted(range(len(positions)), key=lambda j: (-conf[j], positions[j]))


def generate(forward: Forward, prompts: Sequence[Sequence[int]], *, ids: Mapping[str, int], gen: GenConfig,
             rule_factory: Callable[[], StopRule], batch_size: int = 32, seed: int = 0,
             start_block: int = 0, initial_gen: Sequence[Sequence[int]] | None = None,
             end_block: int | None = None, record: bool = False, meta: Mapping | None = None) -> list[dict]:
    """Generate for each prompt (template-applied token ids). Returns one GenerationTrace dict each.

    `initial_gen`/`start_block`/`end_block` run only blocks [start_block, end_block) on a given
    generation region (calibrate.py replays later blocks after a simulated stop). `record=True`
    adds per-step "_fill" (the block's ids if every masked position took this forward's x0)."""
    gen.validate()
    mask, eos, pad = ids["mask"], ids["eos"], ids["pad"]
    T_b, L = gen.steps_per_block, gen.block_length
    counts = schedule_counts(L, T_b, gen.schedule)
    end_block = gen.num_blocks if end_block is None else end_block
    meta = dict(meta or {})
    seqs: list[_Seq] = []
    for i, p in enumerate(prompts):
        region = list(initial_gen[i]) if initial_gen is not None else [mask] * gen.gen_length
        if len(region) != gen.gen_length:
            raise SamplerConfigError(f"initial_gen[{i}] has {len(region)} ids, expected {gen.gen_length}")
        seq_ids = torch.tensor(list(p) + region, dtype=torch.int64)
        rule = rule_factory()
        g = torch.Generator().manual_seed(seed + i) if gen.temperature > 0 else None
        trace = {
            "version": 1, "bundle": meta.get("bundle", ""), "provider": meta.get("provider", "pytorch"),
            "rule": rule.name, "params": rule.params(), "task": meta.get("task"),
            "promptIds": [int(x) for x in p], "outputIds": [], "text": "",
            "genLength": gen.gen_length, "blockLength": L, "steps": gen.steps, "blocks": [],
            "totals": {},
        }
        s = _Seq(len(p), seq_ids, rule, g, start_block, end_block, trace, counts=counts)
        s.wall0 = time.perf_counter()
        seqs.append(s)
        _begin_block(s, gen, mask, eos)

    active = [s for s in seqs if not s.done]
    while active:
        for lo in range(0, len(active), batch_size):
            chunk = active[lo: lo + batch_size]
            width = max(len(s.ids) for s in chunk)
            batch = torch.full((len(chunk), width), pad, dtype=torch.int64)
            for r, s in enumerate(chunk):
                batch[r, width - len(s.ids):] = s.ids
            t0 = time.perf_counter()
            logits, acts = forward(batch)
            ms = (time.perf_counter() - t0) * 1000.0 / len(chunk)
            for r, s in enumerate(chunk):
                off = width - len(s.ids)
                s.fwd_ms += ms
                _step(s, logits[r, off:], {k: v[r, off:] for k, v in acts.items()}, ms, gen, mask, eos, record)
        active = [s for s in seqs if not s.done]

    for s in seqs:
        _finish(s, gen, eos)
    return [s.trace for s in seqs]


def _block_bounds(s: _Seq, gen: GenConfig, b: int) -> tuple[int, int]:
    start = s.prompt_len + b * gen.block_length
    return start, start + gen.block_length


def _begin_block(s: _Seq, gen: GenConfig, mask: int, eos: int) -> None:
    """Start block s.block, or finish the sequence (all blocks done, or EOS skipping)."""
    while True:
        if s.block >= s.end_block:
            s.done = True
            return
        start, end = _block_bounds(s, gen, s.block)
        prev_has_eos = s.block > 0 and bool((s.ids[s.prompt_len: start] == eos).any())
        if prev_has_eos and s.block > 0:
            # EOS skipping: no further blocks; their positions become eos, 0 forwards.
            for b in range(s.block, gen.num_blocks):
                bs, be = _block_bounds(s, gen, b)
                s.ids[bs:be] = eos
                s.trace["blocks"].append(_block_record(b, bs, be, gen.steps_per_block, "eos-skip"))
            s.done = True
            return
        masked_region = int((s.ids[s.prompt_len:] == mask).sum())
        info = BlockInfo(s.block, start, end, gen.steps_per_block, masked_region / gen.gen_length)
        s.rule.begin_block(info)
        rec = _block_record(s.block, start, end, gen.steps_per_block, "budget")
        th = s.rule.block_thresholds()
        rec["delta"], rec["omega"] = (float(th[0]), int(th[1])) if th else (None, None)
        s.cur = rec
        s.step = s.sched_step = s.polish_i = 0
        s.polish_left = -1
        if not bool((s.ids[start:end] == mask).any()):
            # Nothing to denoise (a pre-filled block): ends with 0 forwards.
            rec["endedBy"] = "all-committed"
            _end_block(s, gen, mask, eos)
            continue
        return


def _block_record(b: int, start: int, end: int, budget: int, ended: str) -> dict:
    return {"index": b, "start": start, "end": end, "budget": budget, "stepsUsed": 0, "stopStep": None,
            "endedBy": ended, "delta": None, "omega": None, "certificate": None, "steps": []}


def _end_block(s: _Seq, gen: GenConfig, mask: int, eos: int) -> None:
    s.trace["blocks"].append(s.cur)
    s.cur = None
    s.block += 1


def _step(s: _Seq, logits: torch.Tensor, acts: Mapping[str, torch.Tensor], fwd_ms: float, gen: GenConfig,
          mask: int, eos: int, record: bool) -> None:
    start, end = _block_bounds(s, gen, s.block)
    rec = s.cur
    in_ids = s.ids.clone()
    block_ids = in_ids[start:end]
    is_mask = block_ids.numpy() == mask
    masked = (start + np.flatnonzero(is_mask)).tolist()
    visible = (start + np.flatnonzero(~is_mask)).tolist()
    # float64 numpy (not torch ops: torch's thread pool fights ONNX Runtime's for the cores).
    lg = logits.numpy()[masked].astype(np.float64) if masked else np.zeros((0, logits.shape[-1]))
    if gen.temperature > 0:
        x0n = _gumbel_x0(logits.to(torch.float64), gen.temperature, s.gen).numpy()[masked].astype(np.int64)
    else:
        x0n = lg.argmax(axis=-1).astype(np.int64)  # first maximal index = lowest id on ties
    if masked:
        z = np.exp(lg - lg.max(axis=-1, keepdims=True))
        conf = z[np.arange(len(masked)), x0n] / z.sum(axis=-1)
    else:
        conf = np.zeros(0)
    s.step += 1
    step_rec = {"step": s.step, "visible": visible, "sims": None, "kl": None, "counter": None, "margin": None,
                "committed": [], "committedIds": [], "early": [], "polish": s.polish_left >= 0,
                "forwardMs": fwd_ms, "ruleMs": 0.0}
    if record:
        fill = block_ids.clone()
        for p, v in zip(masked, x0n.tolist()):
            fill[p - start] = v
        step_rec["_fill"] = fill.tolist()
    order = _order(conf, masked)

    def commit(idx: list[int], early: bool = False) -> None:
        for j in idx:
            p, v = masked[j], int(x0n[j])
            s.ids[p] = v
            step_rec["committed"].append(p)
            step_rec["committedIds"].append(v)
            if early:
                step_rec["early"].append(p)

    if s.polish_left >= 0:
        # Polish forward i (0-based) commits ceil(masked / (p - i)) most confident positions.
        p_total = s.rule.polish_steps
        k = math.ceil(len(masked) / (p_total - s.polish_i))
        commit(order[:k], early=True)
        _sort_committed(step_rec)
        s.polish_i += 1
        rec["steps"].append(step_rec)
        rec["stepsUsed"] = s.step
        if s.polish_i >= p_total or not bool((s.ids[start:end] == mask).any()):
            _end_block(s, gen, mask, eos)
            _begin_block(s, gen, mask, eos)
        return

    t = s.sched_step + 1
    s.sched_step = t
    view = StepView(step=t, ids=in_ids.numpy(), visible=visible, masked=masked, x0=x0n, confidence=conf,
                    logits=logits.numpy(), activations={k: v.numpy() for k, v in acts.items()})
    r0 = time.perf_counter()
    d = s.rule.observe(view)
    s.rule_ms += (time.perf_counter() - r0) * 1000.0
    step_rec["ruleMs"] = (time.perf_counter() - r0) * 1000.0
    step_rec["sims"], step_rec["kl"], step_rec["counter"], step_rec["margin"] = d.sims, d.kl, d.counter, d.margin
    # The last step commits whatever is left (the counts sum to L anyway).
    k = len(masked) if t == len(s.counts) else min(s.counts[t - 1], len(masked))
    scheduled = order[:k]
    early_idx = []
    if d.commit_early:
        chosen = set(scheduled)
        early_idx = [masked.index(p) for p in d.commit_early if p in masked and masked.index(p) not in chosen]
    p_steps, T_b = s.rule.polish_steps, len(s.counts)
    # A stop at t = T_b saves nothing; with polish, t + p >= T_b saves nothing either (contract).
    stop = bool(d.stop) and t < T_b and (p_steps == 0 or t + p_steps < T_b)
    if stop and p_steps == 0:
        # Argmax fill: every still-masked position takes this forward's x0.
        commit(scheduled + early_idx)
        commit([j for j in range(len(masked)) if j not in set(scheduled) | set(early_idx)], early=True)
    else:
        commit(scheduled)
        commit(early_idx, early=True)
    _sort_committed(step_rec)
    rec["steps"].append(step_rec)
    rec["stepsUsed"] = s.step
    left = bool((s.ids[start:end] == mask).any())
    if stop:
        rec["stopStep"] = t
        rec["endedBy"] = "stop-rule"
        cert = s.rule.certificate()
        rec["certificate"] = cert.to_json() if cert else None
        if p_steps > 0 and left:
            s.polish_left = p_steps
            return
        _end_block(s, gen, mask, eos)
        _begin_block(s, gen, mask, eos)
        return
    if t >= len(s.counts) or not left:
        rec["endedBy"] = "budget" if t >= len(s.counts) else "all-committed"
        _end_block(s, gen, mask, eos)
        _begin_block(s, gen, mask, eos)


def _sort_committed(step_rec: dict) -> None:
    """Committed positions are listed in ascending position order (as the TS engine)."""
    pairs = sorted(zip(step_rec["committed"], step_rec["committedIds"]))
    step_rec["committed"] = [p for p, _ in pairs]
    step_rec["committedIds"] = [v for _, v in pairs]
    step_rec["early"] = sorted(step_rec["early"])


def _finish(s: _Seq, gen: GenConfig, eos: int) -> None:
    out = s.ids[s.prompt_len:].tolist()
    s.trace["outputIds"] = out
    blocks = s.trace["blocks"]
    stops = [b for b in blocks if b["endedBy"] == "stop-rule"]
    certified = [b for b in stops if b["certificate"] and b["certificate"]["thm4"]]
    s.trace["totals"] = {
        "forwards": sum(b["stepsUsed"] for b in blocks),
        "budget": gen.steps_per_block * len(blocks),
        "certifiedFraction": (len(certified) / len(stops)) if stops else None,
        "forwardMs": s.fwd_ms, "ruleMs": s.rule_ms,
        "wallMs": (time.perf_counter() - s.wall0) * 1000.0,
    }


def public_trace(trace: Mapping, zero_timings: bool = False) -> dict:
    """The GenerationTrace JSON (drops "_" extras; golden files zero the timing fields)."""
    def clean(o):
        if isinstance(o, dict):
            out = {k: clean(v) for k, v in o.items() if not k.startswith("_")}
            if zero_timings:
                for k in ("forwardMs", "ruleMs", "wallMs"):
                    if k in out:
                        out[k] = 0
            return out
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o
    return clean(trace)


# ---------------------------------------------------------------- bundle convenience

@dataclass
class Bundle:
    """bundle.json + metadata + tokenizer of a bundle directory (the forward is supplied separately)."""
    dir: Path
    json: dict
    metadata: EditMetadata
    tokenizer: object

    @staticmethod
    def load(bundle_dir: str | Path) -> "Bundle":
        from tokenizers import Tokenizer
        d = Path(bundle_dir)
        import json as _json
        bj = _json.loads((d / "bundle.json").read_text())
        # edit-bundle/2 converted without an adapter: no probes, no metadata (the EDIT rules refuse).
        meta = (EditMetadata({}, "", {}) if not bj.get("probes") and not (d / "edit-metadata.safetensors").exists()
                else EditMetadata.load(d / "edit-metadata.safetensors"))
        return Bundle(d, bj, meta, Tokenizer.from_file(str(d / "tokenizer.json")))

    @property
    def ids(self) -> dict:
        return self.json["ids"]

    @property
    def gen(self) -> GenConfig:
        return GenConfig.from_bundle(self.json["generation"])

    @property
    def probes(self) -> list[str]:
        return list(self.json["probes"].values())

    def encode_prompt(self, task: str, prompt: str) -> list[int]:
        template = self.json["tasks"][task]["template"]
        if self.json.get("chat_template"):  # edit-bundle/2 instruct models: the TS engine does the same
            template = self.chat_wrap(template)
        text = template.replace("{prompt}", prompt)
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def chat_wrap(self, task_template: str) -> str:
        """The task template as one user turn of bundle.json's chat template, rendered with jinja2 as
        transformers' apply_chat_template does (add_generation_prompt, bos/eos token strings)."""
        import jinja2
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        tok = lambda i: "" if i is None else (self.tokenizer.id_to_token(i) or "")  # noqa: E731
        return env.from_string(self.json["chat_template"]).render(
            messages=[{"role": "user", "content": task_template}], add_generation_prompt=True,
            bos_token=tok(self.ids.get("bos")), eos_token=tok(self.ids.get("eos")))

    def decode(self, out_ids: Sequence[int]) -> str:
        ids = list(out_ids)
        eos = self.ids["eos"]
        if eos in ids:
            ids = ids[: ids.index(eos)]
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def task_params(self, task: str) -> tuple[dict, dict]:
        t = self.json["tasks"][task]
        return dict(t["stop"]["params"]), dict(t["certificates"])

    def rule_factory(self, name: str, params: Mapping | None = None, task: str | None = None) -> Callable[[], StopRule]:
        certs = self.json["tasks"][task].get("certificates") if task else None
        params = dict(params or {})
        make_rule(name, self.metadata, self.probes, params, certs)  # validate now, not per sequence
        return lambda: make_rule(name, self.metadata, self.probes, params, certs)

    def run(self, forward: Forward, task: str, prompts: Sequence[str], rule: str, params: Mapping | None = None,
            batch_size: int = 32, provider: str = "pytorch", **kw) -> list[dict]:
        enc = [self.encode_prompt(task, p) for p in prompts]
        traces = generate(forward, enc, ids=self.ids, gen=self.gen, rule_factory=self.rule_factory(rule, params, task),
                          batch_size=batch_size, meta={"bundle": self.json["name"], "task": task, "provider": provider}, **kw)
        for tr in traces:
            tr["text"] = self.decode(tr["outputIds"])
        return traces
