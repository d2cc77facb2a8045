"""Per-task calibration of EDIT's (delta, Omega) and certificate constants (App. B.1 + C.6).

    calibrate(bundle_dir, forward, val_sets, *, tokenizer=None, batch_size=32, ...) -> dict
        forward: ids [B,S] -> (logits, {module: act}) (sampler.TorchForward / export.OnnxForward)
        val_sets: {task: [EvalItem(prompt=str, check=callable(text)->bool)]}
        Rewrites bundle.json tasks[*].stop / certificates; returns the calibration record.

CLI: python -m edit_dllm.calibrate --bundle DIR --checkpoint CKPT [--n-val N]
"""
from __future__ import annotations
