"""Golden traces (TypeScript engine parity fixtures).

    write_golden(bundle_dir, forward, prompts, out_dir, *, tokenizer=None) -> list[Path]
        prompts: {task: [prompt text, ...]}; writes <out_dir>/<task>-<i>-<rule>[-variant].json

CLI: python -m edit_dllm.golden --bundle DIR [--checkpoint CKPT | --onnx] --out test/fixtures/golden/<name>
"""
from __future__ import annotations
