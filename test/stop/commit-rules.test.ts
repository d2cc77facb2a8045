/** edit-token, jot and confidence (per-step commit rules) on hand-built views. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import type { EditTokenRule } from "../../server/src/stop/edit-token";
import type { JotRule } from "../../server/src/stop/jot";
import { StopRuleParamError } from "../../server/src/stop/errors";
import { PROBE, block, ctx2d, view } from "./view";

test("edit-token: a masked token is frozen after omegaTok consecutive steps with D_{s,t} <= deltaTok", () => {
  // U = identity (k = 2), tauSub = 1: Q_s = softmax(|f_s|).
  // pos 6: constant [2, 0]  -> D = 0 from step 2: c = 0, 1, 2, 3 -> frozen at step 4.
  // pos 5: [1, 0] then [0, -3] (|g| = [0, 3]) from step 2 -> D_2 = KL(softmax[0,3] || softmax[1,0]) > 0.01:
  //        c = 0, 0, 1, 2, 3 -> frozen at step 5.
  // pos 7: alternates [2, 0] / [0, 2]: D = (.8808 - .1192) ln(.8808/.1192) = 1.5232 each step -> never.
  // pos 4: visible from the start -> never returned.
  const rule = createStopRule("edit-token", { deltaTok: 0.01, omegaTok: 3 }, ctx2d()) as EditTokenRule;
  rule.beginBlock(block(0, 4, 8, 8));
  const frozen: number[][] = [];
  for (let t = 1; t <= 5; t++) {
    const rows = { 4: [1, 0], 5: t === 1 ? [1, 0] : [0, -3], 6: [2, 0], 7: t % 2 ? [2, 0] : [0, 2] };
    const visible = t === 5 ? [4, 6] : [4]; // the sampler committed 6 after step 4
    const d = rule.observe(view({ step: t, seqLen: 8, block: [4, 8], visible, acts: { [PROBE]: { dim: 2, rows } } }));
    assert.equal(d.stop, false);
    frozen.push(d.commitEarly ?? []);
    if (t === 4) {
      // Thm 8: 3 sqrt(0.01/2) = 0.2121 < m/2 = (0.8807971 - 0.1192029)/2 = 0.3808
      assert.deepEqual(rule.lastCertified, [6]);
    }
  }
  assert.deepEqual(frozen, [[], [], [], [6], [5]]);
  assert.equal(rule.blockThresholds(), null);
});

test("edit-token: Thm 8 certificate fails with a loose deltaTok; counters reset per block", () => {
  // 3 sqrt(0.05/2) = 0.4743 > 0.3808: frozen but not certified
  const rule = createStopRule("edit-token", { deltaTok: 0.05, omegaTok: 3 }, ctx2d()) as EditTokenRule;
  const v = (t: number) => view({ step: t, seqLen: 8, block: [4, 8], visible: [], acts: { [PROBE]: { dim: 2, rows: { 6: [2, 0] } } } });
  rule.beginBlock(block(0, 4, 8, 8));
  const ds = [1, 2, 3, 4].map((t) => rule.observe(v(t)).commitEarly);
  // positions 4, 5, 7 have zero rows: Q = [.5, .5] constant, frozen too
  assert.deepEqual(ds, [[], [], [], [4, 5, 6, 7]]);
  assert.deepEqual(rule.lastCertified, []);
  rule.beginBlock(block(1, 4, 8, 8));
  assert.deepEqual(rule.observe(v(1)).commitEarly, []);
});

test("jot: ratio p1/(p2+eps) against tau = tauMax - (tauMax - tauMin) * phi", () => {
  // vocab 3, logits [3, 0, 0]: p1 = e^3/(e^3+2) = 0.9094430, p2 = 1/(e^3+2) = 0.0452785,
  // r = p1 / (p2 + 1e-6) = 20.0850933
  // Sequence of 10, prompt 0..3, block [4, 10), visible {7}; window 2, gamma 0.5 (weights .5 at d=1, .25 at d=2).
  // pos 4: resolved 2 (.25), 3 (.5) of 2,3,5,6 (1.5): phi = .5 -> tau = 30 - 27 * .5 = 16.5 -> commit
  // pos 5: resolved 3 (.25), 7 (.25) of 1.5: phi = 1/3 -> tau = 21 -> no
  // pos 6: resolved 7 (.5) of 1.5 -> 1/3 -> no
  // pos 8: resolved 7 (.5) of 6,7,9 (1.25): phi = .4 -> tau = 19.2 -> commit
  // pos 9: resolved 7 (.25) of 7,8 (.75): phi = 1/3 -> tau = 21 -> no (the sequence edge shrinks the window)
  const rule = createStopRule("jot", { window: 2 }, ctx2d()) as JotRule;
  rule.beginBlock(block(0, 4, 10, 6));
  const logits: Record<number, number[]> = {};
  for (const p of [4, 5, 6, 8, 9]) logits[p] = [3, 0, 0];
  const v = view({ step: 1, seqLen: 10, block: [4, 10], visible: [7], vocab: 3, logits });
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);
  close(rule.proximity(v, 4), 0.5);
  close(rule.proximity(v, 8), 0.4);
  close(rule.proximity(v, 9), 1 / 3);
  assert.deepEqual(rule.observe(v).commitEarly, [4, 8]);
  // tauMin = tauMax = 20.08 < r everywhere -> all commit; 20.09 > r -> none
  for (const [tau, want] of [[20.08, [4, 5, 6, 8, 9]], [20.09, []]] as const) {
    const flat = createStopRule("jot", { tauMin: tau, tauMax: tau }, ctx2d());
    flat.beginBlock(block(0, 4, 10, 6));
    assert.deepEqual(flat.observe(v).commitEarly, want);
  }
  assert.throws(() => createStopRule("jot", { tauMin: 10, tauMax: 5 }, ctx2d()), (e: unknown) => e instanceof StopRuleParamError && e.param === "tauMax");
});

test("confidence: commits masked tokens whose top-1 probability is > threshold", () => {
  const rule = createStopRule("confidence", {}, ctx2d());
  rule.beginBlock(block(0, 4, 8, 4));
  const v = view({ step: 1, seqLen: 8, block: [4, 8], visible: [7], confidence: [0.95, 0.9, 0.89] });
  assert.deepEqual(rule.observe(v).commitEarly, [4], "0.9 is not > 0.9");
  const loose = createStopRule("confidence", { threshold: "0.5" }, ctx2d()); // CLI strings parse as numbers
  assert.deepEqual(loose.observe(v).commitEarly, [4, 5, 6]);
});
