/**
 * edit-released on hand-built views. U-bar = [[1, 0], [0, 2]] (d = 2, r = 2): columns (1,0) and (0,2), so
 * cos(f, ubar_j) for f = [1,0] is [1, 0] and for f = [1,1] is [1/sqrt2, 1/sqrt2].
 * maskedFraction 0 -> T = 2.0: q([1,0]) = softmax([0.5, 0]) = [sigmoid(.5), sigmoid(-.5)] = [0.6224593, 0.3775407];
 * q([1,1]) = [0.5, 0.5].
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { releasedTemperature } from "../../server/src/stop/edit-released";
import { StopRuleContextError } from "../../server/src/stop/errors";
import { PROBE, block, ctx, ctx2d, moduleMeta, view } from "./view";

const close = (a: number | null | undefined, b: number, tol = 1e-12) =>
  assert.ok(typeof a === "number" && Math.abs(a - b) <= tol, `${a} != ${b}`);
const OTHER = "blocks.2.attn.v_proj";
const UBAR = Float32Array.from([1, 0, 0, 2]);

test("edit-released: temperature T = 2.0 - 1.9 * maskedFraction, fixed at block start", () => {
  close(releasedTemperature(0), 2.0);
  close(releasedTemperature(0.5), 1.05); // 2 - 0.95
  close(releasedTemperature(1), 0.1); // 2 - 1.9
});

test("edit-released: D_t = mean over matched tokens of KL(q^(t-1) || q^(t)), first step unstable", () => {
  const rule = createStopRule("edit-released", { deltaFirst: 0.02, omegaFirst: 1 }, ctx2d({ certificates: { alphaHat: 0.5, q: 0.2 } }));
  assert.equal(rule.polishSteps, 2, "released default polish");
  rule.beginBlock(block(0, 4, 8, 8, 0));
  const acts1 = { [PROBE]: { dim: 2, rows: { 4: [1, 0], 5: [1, 0] } } };
  const d1 = rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4, 5], acts: acts1 }));
  assert.deepEqual([d1.stop, d1.kl, d1.counter, d1.margin, d1.sims], [false, null, 0, null, null]);
  // Step 2: token 4 moves [1,0] -> [1,1]; token 5 unchanged; token 6 is new (not in I_2).
  // KL(prev || curr) = .6224593 ln(2 * .6224593) + .3775407 ln(2 * .3775407) = 0.0302999 (curr || prev would be 0.0309298)
  // D = (0.0302999 + 0) / 2 = 0.0151499 < 0.02 -> c = 1 = Omega, 2 + polish 2 < 8 -> stop.
  const acts2 = { [PROBE]: { dim: 2, rows: { 4: [1, 1], 5: [1, 0], 6: [0, 1] } } };
  const d2 = rule.observe(view({ step: 2, seqLen: 8, block: [4, 8], visible: [4, 5, 6], acts: acts2 }));
  close(d2.kl, 0.015149930990382962, 1e-8); // float32 rows: 1/sqrt2 is rounded
  assert.deepEqual([d2.stop, d2.counter], [true, 1]);
  // margin of qbar = mean(q4, q5) = [(.5 + .6224593)/2, (.5 + .3775407)/2]: .6224593 - .5 = 0.1224593
  close(d2.margin, 0.12245933120185457, 1e-8);
  const cert = rule.certificate!()!;
  // 1 * sqrt(.01) = 0.1 < 0.0612 fails (Thm 2)
  assert.deepEqual([cert.thm2, cert.thm4, cert.delta, cert.omega], [false, false, 0.02, 1]);
});

test("edit-released: averages over every probed module that has U-bar", () => {
  const c = ctx({
    [PROBE]: moduleMeta({ dOut: 2, ubar: UBAR, rank: 2 }),
    [OTHER]: moduleMeta({ dOut: 2, ubar: UBAR, rank: 2 }),
    "blocks.1.attn.k_proj": moduleMeta({ dOut: 2 }), // no U-bar: skipped
  });
  const rule = createStopRule("edit-released", {}, c);
  rule.beginBlock(block(0, 4, 8, 8, 0));
  const at = (f4: number[], other4: number[]) => ({
    [PROBE]: { dim: 2, rows: { 4: f4, 5: [1, 0] } },
    [OTHER]: { dim: 2, rows: { 4: other4, 5: [1, 0] } },
  });
  rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4, 5], acts: at([1, 0], [1, 0]) }));
  const d = rule.observe(view({ step: 2, seqLen: 8, block: [4, 8], visible: [4, 5], acts: at([1, 1], [1, 0]) }));
  // module 1: (0.0302999 + 0) / 2, module 2: 0 -> mean 0.0302999 / 4 = 0.0075750
  close(d.kl, 0.030299861980765924 / 4, 1e-8);
});

test("edit-released: one matched token is enough; no U-bar at all is a typed error", () => {
  const rule = createStopRule("edit-released", {}, ctx2d());
  rule.beginBlock(block(1, 4, 8, 8, 0));
  const a = { [PROBE]: { dim: 2, rows: { 4: [1, 0] } } };
  rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4], acts: a }));
  const d = rule.observe(view({ step: 2, seqLen: 8, block: [4, 8], visible: [4], acts: a }));
  assert.deepEqual([d.kl, d.counter], [0, 1]);
  assert.deepEqual(rule.blockThresholds(), { delta: 0.1, omega: 6 });
  assert.throws(() => createStopRule("edit-released", {}, ctx({ [PROBE]: moduleMeta({ dOut: 2 }) })), StopRuleContextError);
});
