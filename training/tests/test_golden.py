"""The committed golden traces (TS parity fixtures) are reproduced by the current reference sampler."""
import json
from pathlib import Path

from edit_dllm.golden import compare_golden, cross_check_onnx

ROOT = Path(__file__).resolve().parents[2] / "test" / "fixtures"


def test_golden_files_have_the_documented_shape():
    files = sorted((ROOT / "golden" / "micro-bundle").glob("*.json"))
    assert len(files) >= 16
    variants = set()
    for f in files:
        doc = json.loads(f.read_text())
        assert doc["format"] == "edit-golden/1" and doc["bundleDir"] == "micro-bundle"
        tr = doc["trace"]
        assert tr["version"] == 1 and len(tr["outputIds"]) == tr["genLength"]
        for blk in tr["blocks"]:
            assert blk["stepsUsed"] == len(blk["steps"])
            for st in blk["steps"]:
                assert st["forwardMs"] == 0 and len(st["committed"]) == len(st["committedIds"])
        variants.add(doc["variant"])
    assert {"full", "edit", "edit-early-p0", "edit-early-p2", "edit-released", "edit-subspace"} <= variants


def test_sampler_on_model_onnx_reproduces_the_golden_traces():
    assert cross_check_onnx(ROOT / "micro-bundle", ROOT / "golden" / "micro-bundle") == {}


def test_compare_golden_reports_differences():
    a = {"blocks": [{"steps": [{"kl": 0.1, "committed": [3]}]}]}
    b = {"blocks": [{"steps": [{"kl": 0.1 + 1e-3, "committed": [4]}]}]}
    assert len(compare_golden(a, b, tol=1e-6)) == 2
