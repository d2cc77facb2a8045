"""Speed of the PyTorch reference sampler on bench items: the baseline `edit-dllm bench` compares the
TS/ONNX Runtime engine against.

Same settings as the TS bench: batch 1 (one item at a time, as the engine serves requests), each
prompt through its task's template, the bundle's gen/block/steps/schedule, greedy decoding, and the
rule parameters the bench used (by default: a rule named in the task's calibrated stop rule gets its
calibrated params, "calibrated" means that rule, other rules get the calibrated params they accept).
The forward computes every probe in bundle.json, as the ONNX graph does.

    python -m edit_dllm.speed --bundle DIR --items FILE [--limit N] [--task T] --rules full,edit --threads 1
prints JSON {rule: {items, forwards, tokens, wallMs, tokensPerSec}}; wallMs sums each generation's
wall time (as trace.totals.wallMs in the TS bench), tokensPerSec = tokens before EOS / wall seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

import torch

from .export import clean_module_name, lora_b_paths
from .reference_weights import load_reference_model
from .sampler import Bundle, TorchForward, generate
from .sampler_rules import RuleParamError, make_rule


class SpeedUsageError(ValueError):
    pass


def load_items(path: str | Path) -> list[dict]:
    """{task, prompt, answer} records as JSONL or a JSON array (the TS bench's items format)."""
    text = Path(path).read_text().strip()
    if text.startswith("["):
        raw = json.loads(text)
    elif text.startswith('{"items"'):
        raw = json.loads(text)["items"]
    else:
        raw = [json.loads(line) for line in text.splitlines() if line.strip()]
    for i, r in enumerate(raw):
        if not all(isinstance(r.get(k), str) for k in ("task", "prompt")):
            raise SpeedUsageError(f"{path}: item {i + 1}: expected {{\"task\": string, \"prompt\": string, ...}}")
    return raw


def probe_paths(model: torch.nn.Module, modules: Sequence[str]) -> list[str]:
    """The LoRA-B paths whose clean names are the bundle's probe modules."""
    by_name = {clean_module_name(p): p for p in lora_b_paths(model)}
    missing = [m for m in modules if m not in by_name]
    if missing:
        raise SpeedUsageError(f"reference model has no LoRA-B module for bundle probe(s) {missing}; has {sorted(by_name)}")
    return [by_name[m] for m in modules]


def rule_for(bundle: Bundle, task: str, spec: str, override: Mapping | None) -> tuple[str, dict]:
    """(rule name, params) for a bench rule spec on a task (see the module docstring)."""
    stop = bundle.json["tasks"][task]["stop"]
    if override is not None:
        # The TS traces list every param with its default; "" there means unset (e.g. probe = the default probe).
        override = {k: v for k, v in override.items() if v != ""}
    if spec == "calibrated":
        return stop["rule"], dict(stop["params"]) if override is None else dict(override)
    if override is not None:
        return spec, dict(override)
    if spec == "full":
        return spec, {}
    accepted = {}
    for k, v in stop["params"].items():
        try:
            make_rule(spec, bundle.metadata, bundle.probes, {k: v}, None)
            accepted[k] = v
        except RuleParamError:
            pass
    return spec, accepted


def measure(bundle_dir: str | Path, items: Sequence[dict], rules: Sequence[str],
            params: Mapping | None = None) -> dict:
    """Run each rule over the items one at a time; returns {rule: {items, forwards, tokens, wallMs, tokensPerSec}}.

    `params` = {task: {rule spec: params}} overrides (the TS bench passes the params its traces record)."""
    bundle = Bundle.load(bundle_dir)
    model = load_reference_model(bundle_dir)
    fwd = TorchForward(model, probe_paths(model, bundle.probes))
    ids, gen, eos = bundle.ids, bundle.gen, bundle.ids["eos"]
    fwd(torch.full((1, 2), ids["mask"], dtype=torch.int64))  # warm-up, as the TS engine does at load
    specs = ["full"] + [r for r in rules if r != "full"]
    out: dict[str, dict] = {}
    for spec in specs:
        acc = {"items": 0, "forwards": 0, "tokens": 0, "wallMs": 0.0}
        for it in items:
            task = it["task"]
            name, p = rule_for(bundle, task, spec, ((params or {}).get(task) or {}).get(spec))
            prompt_ids = bundle.encode_prompt(task, it["prompt"])
            factory = bundle.rule_factory(name, p, task)
            t0 = time.perf_counter()
            (trace,) = generate(fwd, [prompt_ids], ids=ids, gen=gen, rule_factory=factory, batch_size=1)
            wall = (time.perf_counter() - t0) * 1000.0
            outs = trace["outputIds"]
            acc["items"] += 1
            acc["forwards"] += trace["totals"]["forwards"]
            acc["tokens"] += outs.index(eos) if eos in outs else len(outs)
            # generate's own wall clock starts after setup; the outer one includes it (the TS trace's does too).
            acc["wallMs"] += wall
        acc["tokensPerSec"] = 1000.0 * acc["tokens"] / acc["wallMs"] if acc["wallMs"] else 0.0
        out[spec] = acc
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edit_dllm.speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--task")
    ap.add_argument("--rules", default="full,calibrated")
    ap.add_argument("--params", help='JSON {task: {rule: params}} overriding the bundle-derived params')
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    items = load_items(a.items)
    if a.task:
        items = [i for i in items if i["task"] == a.task]
    items = items[: a.limit] if a.limit is not None else items
    if not items:
        print(f"no items in {a.items}", file=sys.stderr)
        return 2
    rules = [r.strip() for r in a.rules.split(",") if r.strip()]
    print(json.dumps(measure(a.bundle, items, rules, json.loads(a.params) if a.params else None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
