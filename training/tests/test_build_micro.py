"""The micro config trains, records and writes EDIT metadata end to end (pretrain + SFT stages)."""
import json

import pytest
import torch
from safetensors import safe_open

from edit_dllm.build import Build
from edit_dllm.train import CONFIGS, GEN_LENGTH, lr_factor


def test_lr_schedule():
    assert lr_factor(0, 100, 10, 0.1) == 0.1
    assert lr_factor(9, 100, 10, 0.1) == 1.0
    assert abs(lr_factor(99, 100, 10, 0.1) - 0.1) < 1e-3


def test_micro_build_trains_and_records(tmp_path):
    b = Build(CONFIGS["micro"], tmp_path, log=lambda _m: None)
    assert b.run(("pretrain", "sft"))
    rec = json.loads((tmp_path / "build-record.json").read_text())
    assert rec["stages"]["pretrain"]["status"] == "done" and rec["stages"]["sft"]["status"] == "done"
    assert rec["params"]["lora"] == 2 * 3 * (8 * 32 + 32 * 8)      # 2 blocks x q,k,v x (A + B)
    losses = [json.loads(l) for l in (tmp_path / "pretrain" / "log.jsonl").read_text().splitlines()]
    assert any("loss" in r and torch.isfinite(torch.tensor(r["loss"])) for r in losses)
    with safe_open(str(tmp_path / "sft" / "edit-metadata.safetensors"), "pt") as f:
        meta = f.metadata()
        mods = json.loads(meta["modules"])
        assert mods == [f"blocks.{i}.attn.{p}_proj" for i in range(2) for p in "qkv"]
        assert meta["K"] == str(CONFIGS["micro"].sft_steps) and meta["default_probe"] == "blocks.1.attn.q_proj"
        for m in mods:
            u, S, ub = f.get_tensor(f"{m}.u"), f.get_tensor(f"{m}.subspace"), f.get_tensor(f"{m}.ubar")
            assert u.shape == (32,) and S.shape == (32, 4) and ub.shape == (32, 8)
            assert torch.allclose(u, ub.norm(dim=1), atol=1e-6)
            assert torch.allclose(S.T @ S, torch.eye(4), atol=1e-5)
    assert set(rec["adapter_vs_recorded"]) == set(mods)
    # rerun: every stage skips
    b2 = Build(CONFIGS["micro"], tmp_path, log=lambda _m: None)
    assert b2.run(("pretrain", "sft"))
    assert b2.stage_pretrain() == "skipped" and b2.stage_sft() == "skipped"
    assert GEN_LENGTH == 64


def test_refine_stages_chain_and_sft_starts_from_the_last(tmp_path):
    from dataclasses import replace
    from edit_dllm.train import base_model_path, load_model, refine
    cfg = replace(CONFIGS["micro"], refine_steps=3, refine_warmup=1, refine_weights={"arith": 2},
                  refine2_steps=2, refine2_warmup=1, refine2_weights={"sudoku": 2},
                  refine3_steps=2, refine3_warmup=1, refine3_weights={"arith": 1}, eval_every=0)
    assert base_model_path(cfg, tmp_path) == tmp_path / "refine3" / "model.pt"
    cfg = replace(cfg, refine3_steps=0)
    assert base_model_path(cfg, tmp_path) == tmp_path / "refine2" / "model.pt"
    assert base_model_path(replace(cfg, refine2_steps=0), tmp_path) == tmp_path / "refine" / "model.pt"
    assert base_model_path(replace(cfg, refine_steps=0, refine2_steps=0), tmp_path) == tmp_path / "pretrain" / "model.pt"
    b = Build(cfg, tmp_path, log=lambda _m: None)
    assert b.run(("pretrain", "refine", "refine2"))
    steps = {}
    for stage in ("refine", "refine2"):
        recs = [json.loads(l) for l in (tmp_path / stage / "log.jsonl").read_text().splitlines()]
        steps[stage] = max(r.get("step", 0) for r in recs)
    assert steps == {"refine": 3, "refine2": 2}
    # refine2 continued from refine's weights, so it moved away from them but not from scratch
    w = {s: load_model(tmp_path / s / "model.pt").state_dict() for s in ("pretrain", "refine", "refine2")}
    k = next(iter(w["refine"]))
    assert not torch.equal(w["refine"][k], w["refine2"][k]) and not torch.equal(w["pretrain"][k], w["refine"][k])
    with pytest.raises(ValueError, match="refine2 continues from refine's weights, but refine_steps is 0"):
        refine(replace(cfg, refine_steps=0), tmp_path, stage="refine2")
    # refine3 continues from refine2
    b3 = Build(replace(cfg, refine3_steps=2), tmp_path, log=lambda _m: None)
    assert b3.run(("refine3",))
    w3 = load_model(tmp_path / "refine3" / "model.pt").state_dict()
    assert not torch.equal(w["refine2"][k], w3[k])
    with pytest.raises(ValueError, match="expected one of refine, refine2, refine3"):
        refine(cfg, tmp_path, stage="refine4")


def test_probe_cli_trains_a_rope_model_on_one_task(tmp_path):
    from edit_dllm.train import load_model, main
    main(["--config", "micro", "--out", str(tmp_path), "--tasks", "arith", "--steps", "3", "--positions", "rope"])
    start = json.loads((tmp_path / "pretrain" / "log.jsonl").read_text().splitlines()[0])
    assert start["config"]["tasks"] == ["arith"] and start["config"]["pretrain_steps"] == 3
    assert load_model(tmp_path / "pretrain" / "model.pt").cfg.positions == "rope"


def test_probe_cli_names_an_unknown_task(tmp_path, capsys):
    from edit_dllm.train import main
    with pytest.raises(SystemExit):
        main(["--config", "micro", "--out", str(tmp_path), "--tasks", "arith,chess"])
    assert "unknown task(s) ['chess']" in capsys.readouterr().err


def test_same_seed_same_model(tmp_path):
    """The issue's determinism contract on the micro config: two builds from scratch with the same
    seed give a byte-identical ONNX model and identical EDIT metadata (tensors and header; the
    safetensors header's key order itself is not stable between writes)."""
    outs = []
    for name in ("a", "b"):
        assert Build(CONFIGS["micro"], tmp_path / name, log=lambda _m: None).run(("pretrain", "sft", "export"))
        outs.append(tmp_path / name)
    assert (outs[0] / "bundle/model.onnx").read_bytes() == (outs[1] / "bundle/model.onnx").read_bytes()
    for rel in ("sft/edit-metadata.safetensors", "bundle/edit-metadata.safetensors"):
        fa, fb = (safe_open(str(o / rel), "pt") for o in outs)
        assert fa.metadata() == fb.metadata()
        assert sorted(fa.keys()) == sorted(fb.keys())
        for k in fa.keys():
            assert torch.equal(fa.get_tensor(k), fb.get_tensor(k)), (rel, k)
