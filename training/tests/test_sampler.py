"""Reference sampler: schedules, EOS skipping, an EDIT stop on hand-built activations, certificates.

Expected numbers come from hand computations written out in the tests (closed forms), never from
the code under test.
"""
import math

import numpy as np
import pytest
import torch

from edit_dllm.sampler import GenConfig, generate, schedule_counts
from edit_dllm.sampler_rules import (EditMetadata, EditRule, FullRule, ModuleMetadata, RuleParamError,
                                     certificate_flags, make_rule)

MASK, EOS, PAD, UNK = 3, 1, 2, 0
IDS = {"mask": MASK, "eos": EOS, "pad": PAD, "unk": UNK}
V = 40


# ---------------------------------------------------------------- schedules

def test_uniform_schedule_by_hand():
    assert schedule_counts(32, 16, "uniform") == [2] * 16
    # 10 = 4 * 2 + 2: the first two steps get one more (LLaDA get_num_transfer_tokens)
    assert schedule_counts(10, 4, "uniform") == [3, 3, 2, 2]
    assert schedule_counts(3, 5, "uniform") == [1, 1, 1, 0, 0]


def test_gaussian_schedule_by_hand():
    # L=8, T=4: mid 1.5, sd 1: w = e^-1.125, e^-0.125, e^-0.125, e^-1.125 = .3247, .8825, .8825, .3247
    # 8 w / sum = 1.0759, 2.9241, 2.9241, 1.0759 -> floors 1,2,2,1 (6); 2 left to the largest
    # fractional parts (.9241 at steps 2 and 3) -> 1,3,3,1
    assert schedule_counts(8, 4, "gaussian") == [1, 3, 3, 1]
    assert sum(schedule_counts(32, 16, "gaussian")) == 32


# ---------------------------------------------------------------- a fake model with chosen outputs

PROMPT = [10]


class FakeModel:
    """Token 20+g at generation index g with logit 10 - 0.1 g (so commits go left to right, one per
    step with steps == block_length), and activations chosen per (position, #visible in the block).

    sims_table(n_visible) -> {generation index: s}; activation f = [s, 1] so cos(f, u=[1, 0]) = s / sqrt(s^2 + 1).
    """

    def __init__(self, sims_table, eos_everywhere=False, block_length=8):
        self.sims_table = sims_table
        self.eos = eos_everywhere
        self.L = block_length
        self.calls = 0

    def __call__(self, ids):
        self.calls += 1
        b, s = ids.shape
        logits = torch.zeros(b, s, V)
        acts = torch.zeros(b, s, 2)
        for r in range(b):
            start = s - (s - len(PROMPT))  # prompt length 1, no padding in these tests
            for g in range(s - len(PROMPT)):
                p = len(PROMPT) + g
                logits[r, p, EOS if self.eos else 20 + g] = 10.0 - 0.1 * g
            gen = ids[r, len(PROMPT):]
            blk = (gen != MASK).nonzero()
            for g in range(s - len(PROMPT)):
                block = g // self.L
                seg = gen[block * self.L:(block + 1) * self.L]
                n_vis = int((seg != MASK).sum())
                sv = self.sims_table(n_vis).get(g % self.L, 0.0)
                acts[r, len(PROMPT) + g] = torch.tensor([sv, 1.0])
        return logits, {"m": acts}


META = EditMetadata({"m": ModuleMetadata(u=np.array([1.0, 0.0]), subspace=np.array([[1.0], [0.0]]),
                                         ubar=np.array([[1.0, 0.0], [0.0, 1.0]]), grad_rms=None)}, "m")


def cos_of(s):
    return s / math.sqrt(s * s + 1.0)


def kl2(p_new, p_old):
    return sum(a * math.log(a / b) for a, b in zip(p_new, p_old))


def softmax(xs):
    e = [math.exp(x) for x in xs]
    return [v / sum(e) for v in e]


def table(n_vis):
    # 2 visible (step 3): all sims 0; >= 3 visible (steps 4..): position 0 has s = 0.5, others 0.
    return {0: 0.5} if n_vis >= 3 else {}


def run(rule, gen=GenConfig(8, 8, 8), model=None):
    model = model or FakeModel(table)
    return generate(model, [PROMPT], ids=IDS, gen=gen, rule_factory=lambda: rule)[0], model


def test_full_rule_commits_left_to_right_and_runs_the_budget():
    tr, model = run(FullRule())
    (blk,) = tr["blocks"]
    assert blk["endedBy"] == "budget" and blk["stepsUsed"] == 8 and model.calls == 8
    assert [s["committed"] for s in blk["steps"]] == [[1 + g] for g in range(8)]
    assert tr["outputIds"] == [20 + g for g in range(8)]
    assert [s["visible"] for s in blk["steps"]][:3] == [[], [1], [1, 2]]


def test_edit_stop_by_hand_delta_001():
    # Step 1,2: I_t has < 2 tokens -> undefined, c = 0. Step 3: I = {0} -> undefined, c = 0.
    # Step 4: I = {0,1}: sims (cos .5, 0) vs (0, 0): D4 = KL(softmax(c, 0) || (.5, .5)) = 0.0305 > 0.01 -> c = 0.
    # Step 5: sims of I = {0,1,2} unchanged -> D5 = 0 -> c = 1; step 6 -> c = 2 >= Omega = 2 -> stop (6 < 8).
    c = cos_of(0.5)
    d4 = kl2(softmax([c, 0.0]), [0.5, 0.5])
    assert 0.01 < d4 < 0.05
    rule = EditRule(META, {"tau": 1.0, "deltaFirst": 0.01, "omegaFirst": 2, "deltaLater": 0.01, "omegaLater": 2,
                           "polishSteps": 0}, {"alphaHat": 0.5, "q": 0.2})
    tr, model = run(rule)
    (blk,) = tr["blocks"]
    steps = blk["steps"]
    assert [s["kl"] is None for s in steps] == [True, True, True, False, False, False]
    assert steps[3]["kl"] == pytest.approx(d4, abs=1e-7)
    assert steps[4]["kl"] == pytest.approx(0.0, abs=1e-12)
    assert [s["counter"] for s in steps] == [0, 0, 0, 0, 1, 2]
    assert blk["stopStep"] == 6 and blk["stepsUsed"] == 6 and blk["endedBy"] == "stop-rule" and model.calls == 6
    # Polish 0: step 6 commits its scheduled token (gen 5) and argmax-fills gen 6, 7 (early).
    assert steps[5]["committed"] == [6, 7, 8] and steps[5]["early"] == [7, 8]
    assert tr["outputIds"] == [20 + g for g in range(8)]
    # Margin at the stop: P~ on I_6 = S_5 ∩ S_6 = {0..3}: softmax(c, 0, 0, 0): top-2 margin.
    p = softmax([c, 0.0, 0.0, 0.0])
    assert steps[5]["margin"] == pytest.approx(p[0] - p[1], abs=1e-7)
    assert steps[5]["sims"] == pytest.approx([c, 0, 0, 0, 0], abs=1e-7)
    cert = blk["certificate"]
    # Eq 18: 2 sqrt(.005) = .1414 < m/2 ?  Eq 20 adds sqrt(.005)/(1-.5) = .1414.  Eq 24 vs q/2 = .1
    r = math.sqrt(0.005)
    m = p[0] - p[1]
    assert cert["thm2"] == (2 * r < m / 2) and cert["thm4"] == (4 * r < m / 2) and cert["cor6"] is False
    assert cert["margin"] == pytest.approx(m, abs=1e-7)


def test_edit_stop_by_hand_delta_005_and_polish():
    # delta .05 > D4: c = 1 at step 4, 2 at step 5 -> stop at 5.
    params = {"tau": 1.0, "deltaFirst": 0.05, "omegaFirst": 2, "deltaLater": 0.05, "omegaLater": 2}
    tr, _ = run(EditRule(META, {**params, "polishSteps": 0}))
    assert [s["counter"] for s in tr["blocks"][0]["steps"]] == [0, 0, 0, 1, 2]
    assert tr["blocks"][0]["stopStep"] == 5
    # Polish 2: step 5 commits 1, then polish forwards commit ceil(3/2) = 2 and ceil(1/1) = 1.
    tr, model = run(EditRule(META, {**params, "polishSteps": 2}))
    blk = tr["blocks"][0]
    assert blk["stopStep"] == 5 and blk["stepsUsed"] == 7 and model.calls == 7
    assert [len(s["committed"]) for s in blk["steps"]] == [1, 1, 1, 1, 1, 2, 1]
    assert [s["polish"] for s in blk["steps"]][-2:] == [True, True]
    assert blk["steps"][-1]["kl"] is None and blk["steps"][-1]["counter"] is None
    # Polish 3 with a stop at 5: 5 + 3 >= 8 -> the stop is ignored and the block runs its budget.
    tr, _ = run(EditRule(META, {**params, "polishSteps": 3}))
    assert tr["blocks"][0]["endedBy"] == "budget" and tr["blocks"][0]["stepsUsed"] == 8


def test_eos_block_skips_later_blocks():
    model = FakeModel(table, eos_everywhere=True, block_length=4)
    tr = generate(model, [PROMPT], ids=IDS, gen=GenConfig(12, 4, 6), rule_factory=FullRule)[0]
    assert [b["endedBy"] for b in tr["blocks"]] == ["budget", "eos-skip", "eos-skip"]
    assert [b["stepsUsed"] for b in tr["blocks"]] == [2, 0, 0]
    assert model.calls == 2 and tr["outputIds"] == [EOS] * 12
    assert tr["totals"]["forwards"] == 2


def test_left_padded_batch_matches_single_sequences_on_micro_bundle():
    from pathlib import Path

    from edit_dllm.export import OnnxForward
    from edit_dllm.sampler import Bundle
    root = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "micro-bundle"
    b = Bundle.load(root)
    fwd = OnnxForward(root / "model.onnx")
    prompts = ["12+5", "347+85-126", "1"]
    single = [b.run(fwd, "arith", [p], "edit", {"polishSteps": 0})[0] for p in prompts]
    batch = b.run(fwd, "arith", prompts, "edit", {"polishSteps": 0}, batch_size=3)
    for s, t in zip(single, batch):
        assert s["outputIds"] == t["outputIds"]
        assert [x["stopStep"] for x in s["blocks"]] == [x["stopStep"] for x in t["blocks"]]


def test_released_rule_kl_by_hand():
    # Ubar = I (2 columns e1, e2). f = [s, 1] -> cosines (s/n, 1/n), n = sqrt(s^2+1); T at block start
    # with everything masked = 2 - 1.9 = 0.1. q = softmax(cos / 0.1). D_t = mean over matched tokens of KL(prev || cur).
    rule = make_rule("edit-released", META, ["m"], {"deltaFirst": 1e-9, "omegaFirst": 6, "deltaLater": 1e-9,
                                                    "omegaLater": 6, "polishSteps": 2})
    tr, _ = run(rule)
    steps = tr["blocks"][0]["steps"]
    assert steps[0]["kl"] is None and steps[1]["kl"] is None  # first step; step 2: S_1 empty
    q_old = softmax([0.0 / 0.1, 1.0 / 0.1])                      # s = 0
    c = cos_of(0.5)
    q_new = softmax([c / 0.1, (1 / math.sqrt(1.25)) / 0.1])     # s = 0.5
    # step 3: tokens {0}: s 0 -> 0: KL 0. step 4: tokens {0, 1}: token 0 changed, token 1 unchanged.
    assert steps[2]["kl"] == pytest.approx(0.0, abs=1e-12)
    assert steps[3]["kl"] == pytest.approx(kl2(q_old, q_new) / 2, rel=1e-9)


def test_certificate_flags_by_hand():
    # delta .01, Omega 2, alpha .5: r = sqrt(.005) = .070711; local = .141421; tail = .141421
    c = certificate_flags(0.5, 0.01, 2, 0.5, 0.6)
    assert (c.thm2, c.thm4, c.cor6) == (True, False, True)   # .1414 < .25; .2828 < .25 no; .2828 <= .3
    c = certificate_flags(0.6, 0.01, 2, 0.5, 0.5)
    assert (c.thm2, c.thm4, c.cor6) == (True, True, False)   # .2828 < .3; .2828 <= .25 no
    c = certificate_flags(0.9, 0.01, 2, 1.0, 0.9)             # alpha >= 1: Assumption 3 fails
    assert (c.thm2, c.thm4, c.cor6) == (True, False, False)
    c = certificate_flags(0.3, 0.01, 2, None, None)           # no constants: Thm 4 / Cor 6 false
    assert (c.thm2, c.thm4, c.cor6, c.alphaHat, c.q) == (True, False, False, 0.0, 0.0)


def test_bad_params_are_typed_errors():
    with pytest.raises(RuleParamError, match="unknown parameter 'omega'"):
        make_rule("edit", META, ["m"], {"omega": 3})
    with pytest.raises(RuleParamError, match="unknown stop rule"):
        make_rule("nope", META, ["m"], {})
    with pytest.raises(RuleParamError, match="probe 'x' has no metadata"):
        make_rule("edit", META, ["m"], {"probe": "x"})


def test_gumbel_sampling_is_llada_formula_and_seeded():
    from edit_dllm.sampler import _gumbel_x0
    logits = torch.tensor([[0.0, 1.0, 0.5], [2.0, 0.0, 1.9]], dtype=torch.float64)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    got = _gumbel_x0(logits, 0.7, g1)
    u = torch.rand(logits.shape, generator=g2, dtype=torch.float64)
    want = torch.argmax(torch.exp(logits) / (-torch.log(u)) ** 0.7, dim=-1)   # LLaDA add_gumbel_noise
    assert got.tolist() == want.tolist()
    a = generate(FakeModel(table), [PROMPT], ids=IDS, gen=GenConfig(8, 8, 8, temperature=1.0),
                 rule_factory=FullRule, seed=3)[0]
    b = generate(FakeModel(table), [PROMPT], ids=IDS, gen=GenConfig(8, 8, 8, temperature=1.0),
                 rule_factory=FullRule, seed=3)[0]
    assert a["outputIds"] == b["outputIds"]


def test_subspace_similarity_by_hand():
    from edit_dllm.sampler_rules import subspace_cosine
    # U = e1 (k = 1): ||U^T f|| / ||f|| = |s| / sqrt(s^2 + 1) for f = [s, 1]; U = I (k = 2): 1.
    f = np.array([[0.5, 1.0], [-2.0, 1.0]])
    assert subspace_cosine(f, np.array([[1.0], [0.0]])) == pytest.approx([0.5 / math.sqrt(1.25), 2 / math.sqrt(5)])
    assert subspace_cosine(f, np.eye(2)) == pytest.approx([1.0, 1.0])
