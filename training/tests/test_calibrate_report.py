"""Calibration helpers (Alg. 1 replay, Eq 23 late ratios), the simulated grid vs real runs, Wilson CI."""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from edit_dllm.calibrate import calibrate, late_ratios, stop_step
from edit_dllm.report import summarize, wilson

MICRO = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "micro-bundle"


def test_stop_step_replays_alg1():
    kls = [None, None, 0.2, 0.01, 0.01, 0.3, 0.01, 0.01, 0.01]
    assert stop_step(kls, 0.05, 2, budget=16) == 5        # c: 0 0 0 1 2
    assert stop_step(kls, 0.05, 3, budget=16) == 9        # reset at step 6, then 1 2 3
    assert stop_step(kls, 0.05, 3, budget=9) is None      # t = T_b saves nothing
    assert stop_step(kls, 0.05, 2, budget=16, polish=11) is None  # 5 + 11 >= 16
    assert stop_step(kls, 0.5, 1, budget=16) == 3


def test_late_ratio_by_hand():
    # Budget 6: late triples have r-1 > 3, r+1 <= 6 -> r = 5 only (steps 4, 5, 6). J = S_4 = {10, 11}.
    # tau = 1: P~(x) = softmax of the sims on J. Step 4: (0, 0); step 5: (1, 0); step 6: (1.5, 0).
    steps = []
    for t, sims in enumerate([None, None, (0, 0), (0, 0), (1, 0, 0), (1.5, 0, 0, 0)], start=1):
        vis = list(range(10, 10 + (len(sims) if sims else 0)))
        steps.append({"step": t, "visible": vis, "sims": list(sims) if sims else [], "polish": False})
    blk = {"budget": 6, "steps": steps}

    def p1(x):
        return 1 / (1 + math.exp(-x))
    tv_54 = abs(p1(1) - 0.5)            # TV of two 2-point distributions = |difference of the first mass|
    tv_65 = abs(p1(1.5) - p1(1))
    assert late_ratios(blk, 1.0) == pytest.approx([tv_65 / tv_54], rel=1e-12)


def test_wilson_by_hand():
    # 8/10: centre (0.8 + 1.92/10)/(1 + 3.84/10), half 1.96 sqrt(0.016 + 0.0096)/(1.384): (0.4902, 0.9433)
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 24)[0] == 0.0


def test_summarize_counts_certified_stops():
    cert = lambda t4, c6: {"thm2": True, "thm4": t4, "cor6": c6}
    traces = [{"totals": {"forwards": 10}, "blocks": [
        {"endedBy": "stop-rule", "stepsUsed": 6, "certificate": cert(True, False)},
        {"endedBy": "budget", "stepsUsed": 4, "certificate": None}]},
        {"totals": {"forwards": 5}, "blocks": [
            {"endedBy": "stop-rule", "stepsUsed": 5, "certificate": cert(False, False)},
            {"endedBy": "eos-skip", "stepsUsed": 0, "certificate": None}]}]
    s = summarize(traces, [True, False])
    assert s["accuracy"] == 0.5 and s["stepsPerBlock"] == 5.0 and s["forwardsPerGeneration"] == 7.5
    assert s["stoppedBlocks"] == 2 and s["thm4Fraction"] == 0.5 and s["cor6Fraction"] == 0.0


def test_simulated_grid_matches_real_run_on_micro_bundle(tmp_path):
    from edit_dllm.export import OnnxForward
    from edit_dllm.tasks import get_task
    bundle = tmp_path / "b"
    shutil.copytree(MICRO, bundle)
    items = get_task("arith").generate("val", 6)
    rec = calibrate(bundle, OnnxForward(bundle / "model.onnx"), {"arith": items}, deltas=(0.025, 0.55),
                    omegas=(2, 6), batch_size=6, verify_sim=True, record_path=tmp_path / "cal.json", log=lambda *_: None)
    r = rec["tasks"]["arith"]
    assert len(r["grid"]) == 16
    sc = r["simCheck"]
    assert sc["simForwards"] == sc["realForwards"] and sc["simAccuracy"] == sc["realAccuracy"]
    assert sc["simStops"] == sc["realStops"]
    import json
    bj = json.loads((bundle / "bundle.json").read_text())
    assert bj["tasks"]["arith"]["stop"]["params"] == r["chosen"]["params"]
    assert 0 <= bj["tasks"]["arith"]["certificates"]["alphaHat"] <= 0.99


def test_report_runs_edit_with_recorded_and_adapter_u(tmp_path):
    import json
    from safetensors.torch import load_file
    from edit_dllm.export import OnnxForward
    from edit_dllm.report import edit_params, metadata_from_adapter, write_report
    from edit_dllm.sampler import Bundle
    from edit_dllm.tasks import get_task
    bundle = tmp_path / "b"
    shutil.copytree(MICRO, bundle)
    adapter = MICRO / "reference" / "model.safetensors"   # peft names: ...q_proj.lora_B.default.weight
    # A default chosen among other rules keeps EDIT's calibrated params beside its own: the report uses those.
    bj = json.loads((bundle / "bundle.json").read_text())
    edit = {"tau": 1.0, "deltaFirst": 0.55, "omegaFirst": 2, "deltaLater": 0.55, "omegaLater": 2, "polishSteps": 0}
    bj["tasks"]["arith"]["stop"] = {"rule": "confidence", "params": {"threshold": 0.9, **edit}}
    (bundle / "bundle.json").write_text(json.dumps(bj))
    assert edit_params(bj["tasks"]["arith"]["stop"]) == edit
    # u from the adapter = row norms of each LoRA-B (Eq 4 on B instead of U-bar).
    meta = metadata_from_adapter(Bundle.load(bundle).metadata, adapter)
    B = load_file(str(adapter))["base_model.model.blocks.1.attn.q_proj.lora_B.default.weight"].double()
    assert np.allclose(meta.modules["blocks.1.attn.q_proj"].u, B.norm(dim=1).numpy(), atol=1e-6)
    items = get_task("arith").generate("test", 4)
    rep = write_report(bundle, OnnxForward(bundle / "model.onnx"), {"arith": items}, batch_size=4,
                       out_json=tmp_path / "r.json", adapter=adapter, log=lambda *_: None)
    r = rep["tasks"]["arith"]
    assert r["rule"] == "edit" and r["defaultRule"] == "confidence" and r["params"] == edit
    assert r["edit"]["n"] == r["editAdapterU"]["n"] == 4
    assert set(rep["adapterUCosine"]["perModule"]) == set(meta.modules)
    assert -1.0 <= rep["adapterUCosine"]["min"] <= rep["adapterUCosine"]["max"] <= 1.0 + 1e-9
