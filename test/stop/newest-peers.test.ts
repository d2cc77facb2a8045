/**
 * Issue 21's newest peers (Prophet, WINO, CreditDecoding, DUS) on hand-built views. Expected numbers
 * come from the papers' / authors' formulas evaluated by hand (Python's math module), cited per test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { dilatedGroups } from "../../server/src/stop/dus";
import { prophetThreshold, PROPHET_PARAMS } from "../../server/src/stop/prophet";
import type { CreditDecodingRule } from "../../server/src/stop/credit-decoding";
import type { StepView } from "../../server/src/stop/rule";
import { StopRuleParamError } from "../../server/src/stop/errors";
import { block, ctx2d, view } from "./view";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);
const sig = (x: number) => 1 / (1 + Math.exp(-x));

/** Block [4, 8) of an 8-long sequence, vocab 2; confidences by position; visible tokens' ids by position. */
function lv(step: number, visible: Record<number, number>, logits: Record<number, number[]>, conf: Record<number, number> = {}): StepView {
  const v = view({ step, seqLen: 8, block: [4, 8], visible: Object.keys(visible).map(Number), vocab: 2, logits });
  for (const [p, id] of Object.entries(visible)) v.ids[Number(p)] = id;
  v.masked.forEach((p, i) => {
    const row = logits[p] ?? [0, 0];
    v.x0[i] = row[1] > row[0] ? 1 : 0;
    v.confidence[i] = conf[p] ?? sig(Math.abs(row[0] - row[1]));
  });
  return v;
}

test("prophet (arXiv:2508.19982 Eq 4-5, Sec. 5.1): mean top-2 logit gap >= 7.5 / 5 / 2.5 by progress p = (t-1)/T_b", () => {
  const d = { tauHigh: 7.5, tauMid: 5, tauLow: 2.5, pMid: 0.33, pLow: 0.67 };
  assert.deepEqual([0, 0.25, 0.33, 0.5, 0.6699, 0.67, 0.9].map((p) => prophetThreshold(p, d)), [7.5, 7.5, 5, 5, 5, 2.5, 2.5]);
  assert.equal(PROPHET_PARAMS.tauHigh.default, 7.5);
  // gaps 8, 7, 6, 9 -> mean 7.5 >= 7.5 at step 1 (p = 0): stop (the sampler fills the block with x0).
  const r = createStopRule("prophet", {}, ctx2d());
  r.beginBlock(block(0, 4, 8, 4));
  const s1 = r.observe(lv(1, {}, { 4: [8, 0], 5: [8, 1], 6: [6, 0], 7: [0, 9] }));
  assert.deepEqual([s1.stop, s1.margin], [true, 7.5]);
  // gaps 8, 6.8, 6, 9 -> 7.45: no at steps 1 and 2 (p = 0, .25: 7.5); step 3 (p = .5: 5) -> stop.
  const r2 = createStopRule("prophet", {}, ctx2d());
  r2.beginBlock(block(0, 4, 8, 4));
  const rows = { 4: [8, 0], 5: [7.8, 1], 6: [6, 0], 7: [0, 9] };
  const stops = [1, 2, 3].map((t) => r2.observe(lv(t, {}, rows)).stop);
  assert.deepEqual(stops, [false, false, true]);
  assert.throws(() => createStopRule("prophet", { pMid: 0.8, pLow: 0.5 }, ctx2d()), StopRuleParamError);
});

test("dus (arXiv:2506.19037; DetailedUnmaskingScheduler): ceil(log_a B) dilated groups, a smaller last group merged", () => {
  // B = 8, a = 2: s = 4, 2, 1 -> {0, 4}, {2, 6}, {1, 3, 5, 7}.
  assert.deepEqual(dilatedGroups(8, 2), [[0, 4], [2, 6], [1, 3, 5, 7]]);
  // B = 6: R = ceil(2.585) = 3; s = 3, 1, max(1, 0) -> {0, 3}, {1, 2, 4, 5}, {} (smaller -> merged).
  assert.deepEqual(dilatedGroups(6, 2), [[0, 3], [1, 2, 4, 5]]);
  // B = 32 (the embedded bundle's block): 5 groups of 2, 2, 4, 8, 16.
  assert.deepEqual(dilatedGroups(32, 2).map((g) => g.length), [2, 2, 4, 8, 16]);
  // Through the rule, B = 4: {0, 2}, {1, 3}. threshold .5 skips offset 2 (conf .3) to the next group.
  const r = createStopRule("dus", { threshold: 0.5 }, ctx2d());
  r.beginBlock(block(0, 4, 8, 4));
  const c = { 4: 0.9, 5: 0.6, 6: 0.3, 7: 0.9 };
  assert.deepEqual(r.observe(lv(1, {}, {}, c)).commitOnly, [4]);
  // Step 2: the group {1, 3} + the skipped 2; 6's confidence rose to .8, 5 (.2 now) is skipped again (last group: dropped).
  assert.deepEqual(r.observe(lv(2, { 4: 0 }, {}, { ...c, 5: 0.2, 6: 0.8 })).commitOnly, [6, 7]);
  const plain = createStopRule("dus", {}, ctx2d());
  plain.beginBlock(block(0, 4, 8, 4));
  assert.deepEqual(plain.observe(lv(1, {}, {}, c)).commitOnly, [4, 6]);
});

test("wino (decoding_wino): draft > 0.6 (at most min(max(0.7 n, 5), 20), at least one), mask again committed tokens < 0.9", () => {
  const r = createStopRule("wino", {}, ctx2d());
  r.beginBlock(block(0, 4, 8, 8));
  // Step 1: conf .95, .7, .5, .65 -> draft {4, 5, 7}; nothing visible to verify.
  const d1 = r.observe(lv(1, {}, {}, { 4: 0.95, 5: 0.7, 6: 0.5, 7: 0.65 }));
  assert.deepEqual([d1.commitOnly, d1.remask], [[4, 5, 7], []]);
  // Step 2: 4 (id 0) and 5 (id 1) visible with rows [3, 0]: p(4 = 0) = sigma(3) = .9526 keeps,
  // p(5 = 1) = 1 - sigma(3) = .0474 < .9 -> masked again; the draft {6, 7} has 2 > 1 tokens, so verification runs.
  const d2 = r.observe(lv(2, { 4: 0, 5: 1 }, { 4: [3, 0], 5: [3, 0] }, { 6: 0.8, 7: 0.9 }));
  assert.deepEqual([d2.commitOnly, d2.remask], [[6, 7], [5]]);
  // Step 3: a one-token draft (nothing > .6 -> the most confident) verifies nothing.
  const d3 = r.observe(lv(3, { 4: 1, 6: 1, 7: 1 }, { 4: [3, 0], 6: [3, 0], 7: [3, 0] }, { 5: 0.3 }));
  assert.deepEqual([d3.commitOnly, d3.remask], [[5], []]);
  // The cap: last draft 2 and 2 failing tokens -> only last_accept - 1 = 1, the least probable (6: 1 - sigma(4) < 7: 1 - sigma(3)).
  const c = createStopRule("wino", {}, ctx2d());
  c.beginBlock(block(0, 4, 8, 8));
  c.observe(lv(1, {}, {}, { 4: 0.1, 5: 0.1, 6: 0.9, 7: 0.9 }));
  const dc = c.observe(lv(2, { 6: 1, 7: 1 }, { 6: [4, 0], 7: [3, 0] }, { 4: 0.95, 5: 0.95 }));
  assert.deepEqual([dc.commitOnly, dc.remask], [[4, 5], [6]]);
});

test("credit-decoding (arXiv:2510.06133; gamma .65, lambda .7, alpha .5): decayed top-1 credit fused into the logits", () => {
  // Rows [1, 0] (pos 5) and [0, 0] (pos 6, x0 = 0 by the lowest-id tie): C <- .65 C + p^.5, z0' = z0 + .7 ln(1 + C),
  // confidence = max(p, sigma(z0' - z1)): pos 5: 0.8072946991930545, then 0.8342380319141697;
  // pos 6: 0.5925120859878308, then 0.6321036520466343 (Python math).
  const r = createStopRule("credit-decoding", { threshold: 0.82 }, ctx2d()) as CreditDecodingRule;
  r.beginBlock(block(0, 4, 8, 8));
  const rows = { 4: [0, 0], 5: [1, 0], 6: [0, 0], 7: [0, 0] };
  const v = (t: number) => lv(t, {}, rows, { 4: 0.5, 5: sig(1), 6: 0.5, 7: 0.5 });
  const d1 = r.observe(v(1));
  close(r.lastConfidence[1], 0.8072946991930545);
  close(r.lastConfidence[2], 0.5925120859878308);
  assert.deepEqual(d1.commitOnly, [5], "nothing > .82: the most confident alone");
  const d2 = r.observe(v(2));
  close(r.lastConfidence[1], 0.8342380319141697);
  close(r.lastConfidence[2], 0.6321036520466343);
  assert.deepEqual(d2.commitOnly, [5], "5 passes .82 only with its credit (raw sigma(1) = .731)");
  // A new block resets the credit.
  r.beginBlock(block(1, 4, 8, 8));
  r.observe(v(1));
  close(r.lastConfidence[1], 0.8072946991930545);
});
