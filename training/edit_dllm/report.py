"""Test-split report: full vs EDIT accuracy (Wilson 95 %), steps per block, certified fractions.

    write_report(bundle_dir, forward, test_sets, *, out_json, readme=None) -> dict
        test_sets: {task: [EvalItem(prompt=str, check=callable(text)->bool)]}

CLI: python -m edit_dllm.report --bundle DIR --checkpoint CKPT [--n-test N]
"""
from __future__ import annotations
