"""Golden traces: the TypeScript engine's parity fixtures (test/fixtures/golden/<bundle-name>/*.json).

    write_golden(bundle_dir, forward, prompts, out_dir, *, provider="pytorch") -> list[Path]
        forward: sampler.TorchForward(model) on the weights the bundle ships (or export.OnnxForward)
        prompts: {task: [prompt text, ...]}

One file per (task, prompt index, variant): `<task>-<i>-<variant>.json` =
    {"format": "edit-golden/1", "bundleDir": "<name>", "task", "prompt", "variant", "rule",
     "params": <exactly the params to pass the rule>, "trace": <GenerationTrace, timings zeroed>}
The trace's blocks[*].steps[*] hold visible / sims / kl / counter / margin / committed(+Ids) per
step; blocks[*].stopStep / stepsUsed / certificate; outputIds / text the final result.
Variants: full; edit (the task's calibrated params); edit-early-p0 and edit-early-p2 (a setting
that stops early, polish 0 / 2); edit-released (released defaults, polish 2) and
edit-released-early; edit-subspace (the task's calibrated params); edit-tight (small tau and
delta: D_t crosses delta, so the counter resets).

CLI (integrator, real model):
    python -m edit_dllm.golden --bundle ../models/edit-tiny-char --checkpoint runs/.../sft.pt \
        --out ../test/fixtures/golden/edit-tiny-char [--per-task 3] [--cross-check-onnx]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Mapping, Sequence

from .sampler import Bundle, public_trace

EARLY = {"deltaFirst": 0.5, "omegaFirst": 2, "deltaLater": 0.5, "omegaLater": 2}
RELEASED_EARLY = {"deltaFirst": 0.5, "omegaFirst": 2, "deltaLater": 0.5, "omegaLater": 2, "polishSteps": 2}


def variants(bundle: Bundle, task: str) -> list[tuple[str, str, dict]]:
    """(variant name, rule, params) for a task; params are complete, so no defaults are involved."""
    stop = bundle.json["tasks"][task]["stop"]
    cal = dict(stop["params"]) if stop.get("rule") in ("edit", "edit-subspace") else {}
    cal = {"tau": 1.0, "deltaFirst": 0.05, "omegaFirst": 6, "deltaLater": 0.1, "omegaLater": 6, "polishSteps": 0, **cal}
    return [
        ("full", "full", {}),
        ("edit", "edit", cal),
        ("edit-early-p0", "edit", {"tau": 1.0, **EARLY, "polishSteps": 0}),
        ("edit-early-p2", "edit", {"tau": 1.0, **EARLY, "polishSteps": 2}),
        ("edit-released", "edit-released", {"deltaFirst": 0.05, "omegaFirst": 6, "deltaLater": 0.1,
                                            "omegaLater": 6, "polishSteps": 2}),
        ("edit-released-early", "edit-released", dict(RELEASED_EARLY)),
        ("edit-subspace", "edit-subspace", cal),
        # A small tau and delta make D_t cross delta, so counter resets appear in the fixtures.
        ("edit-tight", "edit", {"tau": 0.02, "deltaFirst": 0.002, "omegaFirst": 3, "deltaLater": 0.002,
                                "omegaLater": 3, "polishSteps": 0}),
    ]


def default_prompts(bundle: Bundle, per_task: int = 3) -> dict[str, list[str]]:
    """The first `per_task` test prompts of each bundle task (tasks.<name>.generate('test'))."""
    from .tasks import TASKS
    return {t: [it.prompt for it in TASKS[t].generate("test", per_task)] for t in bundle.json["tasks"] if t in TASKS}


def write_golden(bundle_dir: str | Path, forward, prompts: Mapping[str, Sequence[str]], out_dir: str | Path, *,
                 provider: str = "pytorch") -> list[Path]:
    bundle = Bundle.load(bundle_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task, plist in prompts.items():
        for variant, rule, params in variants(bundle, task):
            # Batch 1: exactly what the TS engine runs (no padding at all).
            traces = bundle.run(forward, task, list(plist), rule, params, batch_size=1, provider=provider)
            for i, (prompt, tr) in enumerate(zip(plist, traces)):
                doc = {"format": "edit-golden/1", "bundleDir": Path(bundle_dir).name, "task": task, "prompt": prompt,
                       "variant": variant, "rule": rule, "params": params,
                       "trace": public_trace(tr, zero_timings=True)}
                path = out / f"{task}-{i}-{variant}.json"
                path.write_text(json.dumps(doc, indent=1) + "\n")
                written.append(path)
    return written


def compare_golden(a: Mapping, b: Mapping, tol: float = 1e-6) -> list[str]:
    """Differences between two traces (ids/positions exact, floats within tol): used for the ONNX cross-check."""
    diffs: list[str] = []

    def walk(x, y, path):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in set(x) | set(y):
                if k in ("forwardMs", "ruleMs", "wallMs", "provider"):
                    continue
                walk(x.get(k), y.get(k), f"{path}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                diffs.append(f"{path}: length {len(x)} != {len(y)}")
            for i, (u, v) in enumerate(zip(x, y)):
                walk(u, v, f"{path}[{i}]")
        elif isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or abs(float(x) - float(y)) > tol:
                diffs.append(f"{path}: {x} != {y}")
        elif x != y:
            diffs.append(f"{path}: {x!r} != {y!r}")
    walk(a, b, "")
    return diffs


def cross_check_onnx(bundle_dir: str | Path, golden_dir: str | Path, tol: float = 1e-5) -> dict[str, list[str]]:
    """Re-run every golden file's prompt on model.onnx (onnxruntime-python) and diff the traces."""
    from .export import OnnxForward
    bundle = Bundle.load(bundle_dir)
    fwd = OnnxForward(Path(bundle_dir) / "model.onnx")
    report = {}
    for path in sorted(Path(golden_dir).glob("*.json")):
        doc = json.loads(path.read_text())
        tr = bundle.run(fwd, doc["task"], [doc["prompt"]], doc["rule"], doc["params"], batch_size=1,
                        provider="onnxruntime-python")[0]
        d = compare_golden(doc["trace"], public_trace(tr, zero_timings=True), tol)
        if d:
            report[path.name] = d[:10]
    return report


def main(argv: Sequence[str] | None = None) -> None:
    import torch
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--checkpoint", help="peft SFT checkpoint (build.py's); omitted: run model.onnx")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-task", type=int, default=3)
    ap.add_argument("--cross-check-onnx", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    bundle = Bundle.load(a.bundle)
    if a.checkpoint:
        from .checkpoint_io import load_forward
        fwd, provider = load_forward(a.checkpoint), "pytorch"
    else:
        from .export import OnnxForward
        fwd, provider = OnnxForward(Path(a.bundle) / "model.onnx"), "onnxruntime-python"
    paths = write_golden(a.bundle, fwd, default_prompts(bundle, a.per_task), a.out, provider=provider)
    print(f"wrote {len(paths)} golden traces to {a.out}")
    if a.cross_check_onnx:
        rep = cross_check_onnx(a.bundle, a.out)
        print("ONNX cross-check:", "identical" if not rep else json.dumps(rep, indent=1))


if __name__ == "__main__":
    main()
