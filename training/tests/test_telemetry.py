"""ONNX Runtime's telemetry store stays uncreated (issue 22).

onnxruntime's native library reads ORT_DISABLE_TELEMETRY when it loads; without it, a session writes a
device id and an event database under the user's cache folder (~/.cache/Microsoft/DeveloperTools/
.onnxruntime). Each check runs a fresh Python in a fresh HOME with the variable removed from its
environment, so only what our code sets can keep the store away; the control run shows the store does
appear without it (so the check can see it).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")

TRAINING = Path(__file__).resolve().parents[1]
MODEL = TRAINING.parent / "test" / "fixtures" / "micro-bundle" / "model.onnx"
SESSION = f"import onnxruntime as ort; ort.InferenceSession({str(MODEL)!r}, providers=['CPUExecutionProvider'])"
# Every module of the toolkit that imports onnxruntime (its command-line entry points among them), except
# micro_reference: it rebuilds the micro bundle's reference weights when imported, and sets the
# variable itself before its top-level onnxruntime import (checked below without running it).
ORT_MODULES = ["export", "convert", "onnx_cache_export", "golden", "checkpoint_io", "arch.dtype_bench"]


def run_fresh(code: str, home: Path, cwd: Path) -> Path:
    # CI=true also keeps the store away (measured: no store with CI=true and the switch unset), so it is
    # dropped too: otherwise the control fails in CI and the other checks pass there for the wrong reason.
    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME", "CI")}
    env.update(HOME=str(home), TMPDIR=str(home), PYTHONPATH=str(TRAINING))
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True, timeout=300)
    return home / ".cache" / "Microsoft" / "DeveloperTools" / ".onnxruntime"


def test_control_without_the_switch_the_store_appears(tmp_path):
    assert run_fresh(SESSION, tmp_path, tmp_path).exists()


def test_conftest_keeps_the_store_away(tmp_path):
    # conftest first (as pytest loads it), then onnxruntime directly, as a test may.
    store = run_fresh(f"import conftest; {SESSION}", tmp_path, Path(__file__).parent)
    assert not store.exists()
    assert not list(tmp_path.glob("mat-debug-*"))


@pytest.mark.parametrize("module", ORT_MODULES)
def test_each_entry_point_keeps_the_store_away(tmp_path, module):
    # `python -m edit_dllm.<module>` imports the package (edit_dllm/__init__.py) before the module.
    store = run_fresh(f"import edit_dllm.{module}; {SESSION}", tmp_path, tmp_path)
    assert not store.exists()


def test_modules_importing_onnxruntime_at_top_level_set_the_switch_first():
    # A module run by path (python edit_dllm/x.py) skips the package's __init__: its own top-level
    # onnxruntime import must come after it sets ORT_DISABLE_TELEMETRY.
    for path in sorted((TRAINING / "edit_dllm").rglob("*.py")):
        lines = path.read_text().splitlines()
        top = [i for i, l in enumerate(lines) if l.startswith(("import ", "from ")) and "onnxruntime" in l]
        if not top:
            continue
        switch = [i for i, l in enumerate(lines) if "ORT_DISABLE_TELEMETRY" in l and "environ" in l]
        assert switch and switch[0] < top[0], f"{path.name}: onnxruntime imported before ORT_DISABLE_TELEMETRY is set"
