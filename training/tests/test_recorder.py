"""AdamW-evolution recorder: Eq 1-4 against a hand computation, App. E subspace, App. G grad RMS, errors."""
import json
import math

import pytest
import torch
import torch.nn as nn
from safetensors import safe_open

from edit_dllm.adapter_metadata import u_from_adapter
from edit_dllm.recorder import AdamWEvolutionRecorder, RecorderError, clean_module_name

G1 = [[0.5, -1.0], [2.0, 0.0], [-0.25, 0.75], [1.5, -0.5]]
G2 = [[-0.5, 0.25], [1.0, 3.0], [0.5, 0.5], [0.0, -2.0]]
B1, B2, EPS = 0.9, 0.999, 1e-8


class FakeLoraLayer(nn.Module):
    """Names its weight like peft: <module>.lora_B.default.weight, [d_out=4, r=2]."""

    def __init__(self) -> None:
        super().__init__()
        self.lora_B = nn.ModuleDict({"default": nn.Linear(2, 4, bias=False)})
        nn.init.zeros_(self.lora_B["default"].weight)


class FakeModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Module()])
        self.blocks[0].attn = nn.Module()
        self.blocks[0].attn.q_proj = FakeLoraLayer()


def run_two_steps(eps_placement="inside-sqrt"):
    model = FakeModel()
    p = model.blocks[0].attn.q_proj.lora_B["default"].weight
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(B1, B2), eps=EPS, weight_decay=0.0)
    rec = AdamWEvolutionRecorder(model, opt, top_k=4, full_ubar=True, eps_placement=eps_placement)
    for g in (G1, G2):
        p.grad = torch.tensor(g)
        opt.step()
        rec.step()
        opt.zero_grad()
    return rec


def hand_ubar(outside=False):
    """Eq 1-3 with plain floats: raw moments, no bias correction."""
    out = []
    for i in range(4):
        row = []
        for j in range(2):
            m = v = 0.0
            us = []
            for g in (G1[i][j], G2[i][j]):
                m = B1 * m + (1 - B1) * g
                v = B2 * v + (1 - B2) * g * g
                us.append(m / (math.sqrt(v) + EPS) if outside else m / math.sqrt(v + EPS))
            row.append(sum(us) / 2)
        out.append(row)
    return out


def test_clean_module_name():
    assert clean_module_name("base_model.model.blocks.3.attn.q_proj.lora_B.default.weight") == "blocks.3.attn.q_proj"
    assert clean_module_name("base_model.model.blocks.3.attn.q_proj.lora_B.weight") == "blocks.3.attn.q_proj"
    assert clean_module_name("blocks.3.attn.q_proj.lora_A.default.weight") is None


@pytest.mark.parametrize("placement", ["inside-sqrt", "outside-sqrt"])
def test_ubar_matches_hand_computation(placement):
    rec = run_two_steps(placement)
    assert rec.modules == ["blocks.0.attn.q_proj"] and rec.K == 2
    got = rec.ubar("blocks.0.attn.q_proj").tolist()
    want = hand_ubar(outside=placement == "outside-sqrt")
    for gr, wr in zip(got, want):
        for g, w in zip(gr, wr):
            assert g == pytest.approx(w, rel=1e-5, abs=1e-6)
    # e.g. entry (0,0): g = 0.5 then -0.5 -> U1 = 0.05/sqrt(2.5e-4+1e-8), U2 = -0.005/sqrt(4.9975e-4+1e-8)
    u1 = 0.05 / math.sqrt(2.5e-4 + 1e-8)
    u2 = -0.005 / math.sqrt(0.999 * 2.5e-4 + 2.5e-4 + 1e-8)
    if placement == "inside-sqrt":
        assert got[0][0] == pytest.approx((u1 + u2) / 2, rel=1e-5)


def test_u_subspace_grad_rms_and_file(tmp_path):
    rec = run_two_steps()
    path = rec.save(tmp_path / "edit-metadata.safetensors")
    want = hand_ubar()
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    m = "blocks.0.attn.q_proj"
    assert set(t) == {f"{m}.u", f"{m}.subspace", f"{m}.ubar", f"{m}.grad_rms"}
    assert all(v.dtype == torch.float32 for v in t.values())
    # Eq 4: u[p] = ||Ū_B[p, :]||_2
    for p in range(4):
        assert t[f"{m}.u"][p].item() == pytest.approx(math.hypot(*want[p]), rel=1e-5)
    # App. E: r = 2 < k = 4, so 2 orthonormal columns spanning Ū_B's column space
    S = t[f"{m}.subspace"].double()
    assert S.shape == (4, 2)
    assert torch.allclose(S.T @ S, torch.eye(2, dtype=torch.float64), atol=1e-6)
    ub = t[f"{m}.ubar"].double()
    assert torch.allclose(S @ (S.T @ ub), ub, atol=1e-5)
    # App. G: RMS of each step's gradient, mean and population std
    r1 = math.sqrt(sum(g * g for row in G1 for g in row) / 8)
    r2 = math.sqrt(sum(g * g for row in G2 for g in row) / 8)
    assert t[f"{m}.grad_rms"].tolist() == pytest.approx([(r1 + r2) / 2, abs(r1 - r2) / 2], rel=1e-5)
    assert meta["format"] == "edit-metadata/1"
    assert json.loads(meta["modules"]) == [m]
    assert (meta["d_out"], meta["rank"], meta["k"], meta["K"]) == ("4", "2", "2", "2")
    assert json.loads(meta["betas"]) == [0.9, 0.999] and float(meta["eps"]) == 1e-8
    assert meta["eps_placement"] == "inside-sqrt" and meta["bias_correction"] == "false"
    assert meta["default_probe"] == m
    assert json.loads(meta["lr_schedule"])["steps"] == 2


def test_without_full_ubar_has_no_ubar(tmp_path):
    model = FakeModel()
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    rec = AdamWEvolutionRecorder(model, opt)
    model.blocks[0].attn.q_proj.lora_B["default"].weight.grad = torch.tensor(G1)
    opt.step()
    rec.step()
    assert "blocks.0.attn.q_proj.ubar" not in rec.tensors()


def test_errors():
    with pytest.raises(RecorderError, match="no LoRA-B"):
        lin = nn.Linear(2, 2)
        AdamWEvolutionRecorder(lin, torch.optim.AdamW(lin.parameters()))
    model = FakeModel()
    with pytest.raises(RecorderError, match="AdamW"):
        AdamWEvolutionRecorder(model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(RecorderError, match="AdamW"):
        AdamWEvolutionRecorder(model, torch.optim.Adam(model.parameters(), lr=0.1))
    rec = AdamWEvolutionRecorder(model, torch.optim.AdamW(model.parameters()))
    with pytest.raises(RecorderError, match="after optimizer.step"):
        rec.step()
    with pytest.raises(RecorderError, match="eps_placement"):
        AdamWEvolutionRecorder(model, torch.optim.AdamW(model.parameters()), eps_placement="bogus")


def test_u_from_adapter_is_row_norm_of_b():
    B = torch.tensor([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]])
    est = u_from_adapter({"base_model.model.blocks.1.attn.v_proj.lora_B.weight": B,
                          "base_model.model.blocks.1.attn.v_proj.lora_A.weight": torch.ones(2, 3)})
    assert list(est) == ["blocks.1.attn.v_proj"]
    assert est["blocks.1.attn.v_proj"]["u"].tolist() == pytest.approx([5.0, 1.0, 1.0])
    S = est["blocks.1.attn.v_proj"]["subspace"]
    assert S.shape == (3, 2)
    assert torch.allclose(S.T @ S, torch.eye(2), atol=1e-6)


def test_trainer_callback_drives_recorder():
    pytest.importorskip("transformers")
    from edit_dllm.recorder import make_trainer_callback
    model = FakeModel()
    p = model.blocks[0].attn.q_proj.lora_B["default"].weight
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(B1, B2), eps=EPS, weight_decay=0.0)
    cb = make_trainer_callback()
    for g in (G1, G2):
        p.grad = torch.tensor(g)
        opt.step()
        cb.on_optimizer_step(None, None, None, model=model, optimizer=opt)
        opt.zero_grad()
    got = cb.recorder.ubar("blocks.0.attn.q_proj").tolist()
    assert got[1][1] == pytest.approx(hand_ubar()[1][1], rel=1e-5)
