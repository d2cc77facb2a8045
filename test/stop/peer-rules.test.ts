/**
 * The newer peers (EB-sampler, KLASS, LESS, stable-and-confident, SchED) and EDIT's per-token cosine
 * rule on hand-built views. Expected numbers are computed by hand (closed forms in the comments,
 * evaluated once with Python's math module), never by the code under test.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { entropyBoundedSet } from "../../server/src/stop/eb-sampler";
import { coarseTopKJs } from "../../server/src/stop/less";
import { rowEntropy, topKJensenShannon, logitMargin } from "../../server/src/stop/logit-stats";
import { schedThreshold } from "../../server/src/stop/sched";
import { StopRuleContextError, StopRuleParamError } from "../../server/src/stop/errors";
import type { StepView } from "../../server/src/stop/rule";
import { block, ctx, ctx2d, moduleMeta, view } from "./view";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

/** A view over block [4, 8) of an 8-long sequence with the given logits rows, x0 and confidences. */
function lv(step: number, visible: number[], logits: Record<number, number[]>, x0?: Record<number, number>, conf?: Record<number, number>): StepView {
  const v = view({ step, seqLen: 8, block: [4, 8], visible, vocab: 2, logits });
  v.masked.forEach((p, i) => {
    v.x0[i] = x0?.[p] ?? 0;
    v.confidence[i] = conf?.[p] ?? 0;
  });
  return v;
}

test("logit stats: entropy, margin and the top-K Jensen-Shannon divergence", () => {
  // H of softmax([3, 0]) = -(s ln s + (1-s) ln(1-s)), s = sigma(3) = 0.9525741: 0.1908649711
  close(rowEntropy([3, 0], 0, 2), 0.1908649711064423);
  close(rowEntropy([0, 0, 0, 0], 0, 4), Math.log(4));
  assert.equal(logitMargin([1, 5, 2, 5], 0, 4), 0, "a tie at the top has margin 0");
  assert.equal(logitMargin([1, 7, 2], 0, 3), 5);
  // p = [.5, .3, .2], q = [.3, .5, .2]; K = 1 -> [.5, .5] vs [.3, .7]: JS = 0.0210059257; K = 3: full JS 0.0252671539
  const idx = new Int32Array(3);
  close(topKJensenShannon([0.5, 0.3, 0.2], 0, [0.3, 0.5, 0.2], 0, 3, 1, idx), 0.021005925701837062);
  close(topKJensenShannon([0.5, 0.3, 0.2], 0, [0.3, 0.5, 0.2], 0, 3, 3, idx), 0.02526715392157057);
  close(topKJensenShannon([0.2, 0.3, 0.5], 0, [0.2, 0.3, 0.5], 0, 3, 2, idx), 0);
});

test("eb-sampler: accepts the lowest-entropy prefix while sum(H) - max(H) <= gamma", () => {
  // Sorted by H: 6 (.01), 7 (.02), 4 (.05), 5 (.3). Left sides: 0, .01, .03, .08.
  assert.deepEqual(entropyBoundedSet([4, 5, 6, 7], [0.05, 0.3, 0.01, 0.02], 0.1), [4, 5, 6, 7]);
  assert.deepEqual(entropyBoundedSet([4, 5, 6, 7], [0.05, 0.3, 0.01, 0.02], 0.02), [6, 7]);
  assert.deepEqual(entropyBoundedSet([4, 5], [0.5, 0.5], 0), [4], "the first is always accepted; ties go to the lower position");
  // Through the rule: H(4) = H(7) = H([3,0]) = .190865, H(5) = ln 2, H(6) = H([5,0]) = .040180.
  // gamma .3: 6: 0; 4: .040180; 7: .231045 (<= .3); 5: .421910 (> .3) -> {4, 6, 7}; gamma .2 -> {4, 6}.
  // As published the sampler commits only this set (commitOnly); union=true adds it to the schedule (commitEarly).
  const logits = { 4: [3, 0], 5: [0, 0], 6: [5, 0], 7: [3, 0] };
  for (const [gamma, want] of [[0.3, [4, 6, 7]], [0.2, [4, 6]], [0, [6]]] as const) {
    const r = createStopRule("eb-sampler", { gamma }, ctx2d());
    r.beginBlock(block(0, 4, 8, 4));
    const d = r.observe(lv(1, [], logits));
    assert.deepEqual([d.commitOnly, d.commitEarly], [want, undefined], `gamma ${gamma}`);
    assert.equal(d.stop, false);
    const u = createStopRule("eb-sampler", { gamma, union: true }, ctx2d());
    u.beginBlock(block(0, 4, 8, 4));
    const du = u.observe(lv(1, [], logits));
    assert.deepEqual([du.commitOnly, du.commitEarly], [undefined, want], `gamma ${gamma} union`);
  }
});

const sig = (x: number) => 1 / (1 + Math.exp(-x));

test("klass (llada_klass.py L111-130): KL history of `history` steps < klThreshold, gate step >= history - 1, conf > 0.9", () => {
  // pos 4: [3,0] every step: KL +inf (no previous, L68 p_prev = 0), then 0, 0 -> stable at step 3 (conf sigma(3) = .9526 > .9).
  // pos 5: [2,0] every step: stable, but sigma(2) = .8808 < .9 -> never.
  // pos 6: [3,0], [3,0], then [4,0]: KL([4,0]||[3,0]) = .98201 ln(.98201/.95257) + .01799 ln(.01799/.04743) = 0.0124512
  //        > .01 at step 3; history (.01245, 0) at step 4; (0, 0) at step 5 -> commit at step 5.
  // pos 7: [3,0], [3.1,0], [3.1,0]: KL = 0.000213 < .01 then 0 -> commit at step 3.
  const r = createStopRule("klass", {}, ctx2d());
  assert.equal(r.wantsRowsToEnd, true);
  r.beginBlock(block(0, 4, 8, 8));
  const got: number[][] = [];
  const committed = new Set<number>();
  for (let t = 1; t <= 5; t++) {
    const rows: Record<number, number[]> = { 4: [3, 0], 5: [2, 0], 6: [t >= 3 ? 4 : 3, 0], 7: [t >= 2 ? 3.1 : 3, 0] };
    const conf = { 4: sig(3), 5: sig(2), 6: sig(rows[6][0]), 7: sig(rows[7][0]) };
    const d = r.observe(lv(t, [...committed], rows, {}, conf));
    assert.equal(d.commitEarly, undefined);
    got.push(d.commitOnly ?? []);
    for (const p of d.commitOnly ?? []) committed.add(p);
  }
  assert.deepEqual(got, [[], [], [4, 7], [], [6]]);
  // history 1: the gate step >= 0 always holds; one KL < .01 suffices (pos 4 at step 2)
  const r1 = createStopRule("klass", { history: 1 }, ctx2d());
  r1.beginBlock(block(0, 4, 8, 8));
  r1.observe(lv(1, [], { 4: [3, 0] }, {}, { 4: sig(3) }));
  assert.deepEqual(r1.observe(lv(2, [], { 4: [3, 0] }, {}, { 4: sig(3) })).commitOnly, [4]);
});

test("klass: p_prev and the KL history live across blocks (llada_klass.py L65-68), the step gate is per block (L123)", () => {
  // Blocks [4,6) and [6,8); the rows of positions 6, 7 are seen during block 0 (wantsRowsToEnd).
  // pos 6: [3,0] at every forward. Block 0 has 2 forwards: KL +inf, 0. Block 1, step 1: history (0, 0) is stable
  // but the gate (step index 0 >= history - 1 = 1) fails; step 2: history (0, 0) -> commit. A per-block reset
  // (this project's earlier KLASS) would need step 3.
  const r = createStopRule("klass", {}, ctx2d());
  const rows = { 4: [3, 0], 5: [3, 0], 6: [3, 0], 7: [0, 0] };
  const at = (t: number, blk: [number, number], visible: number[]) => {
    const v = view({ step: t, seqLen: 8, block: blk, visible, vocab: 2, logits: rows });
    v.masked.forEach((p, i) => (v.confidence[i] = p === 7 ? 0.5 : sig(3)));
    return v;
  };
  r.beginBlock(block(0, 4, 6, 2));
  assert.deepEqual(r.observe(at(1, [4, 6], [])).commitOnly, []);
  // step 2: history (+inf, 0) for 4 and 5: not stable (the sampler falls back to top-k_t)
  assert.deepEqual(r.observe(at(2, [4, 6], [])).commitOnly, []);
  r.beginBlock(block(1, 6, 8, 2));
  assert.deepEqual(r.observe(at(1, [6, 8], [])).commitOnly, [], "gated: step index 0 < history - 1");
  assert.deepEqual(r.observe(at(2, [6, 8], [])).commitOnly, [6]);
  // A new generation (block index 0) forgets the previous one's distributions.
  r.beginBlock(block(0, 4, 6, 2));
  assert.deepEqual(r.observe(at(1, [4, 6], [])).commitOnly, []);
  assert.deepEqual(r.observe(at(2, [4, 6], [])).commitOnly, []);
});

test("klass variant dream (dream_klass.py L507-521): conf >= threshold, no step gate, one-token fallback", () => {
  // conf exactly 0.9: LLaDA's strict > rejects, Dream's >= accepts (pos 4, stable from step 3).
  // When nothing is ready Dream commits the single most confident masked token (pos 5 at .95 beats .9).
  const mk = (variant: string) => {
    const r = createStopRule("klass", { variant }, ctx2d());
    r.beginBlock(block(0, 4, 8, 8));
    return r;
  };
  const rows = { 4: [3, 0], 5: [0, 0], 6: [0, 0], 7: [0, 0] };
  const c = { 4: 0.9, 5: 0.95, 6: 0.1, 7: 0.1 };
  const [l, d] = [mk("llada"), mk("dream")];
  const got = [1, 2, 3].map((t) => [l.observe(lv(t, [], rows, {}, c)).commitOnly, d.observe(lv(t, [], rows, {}, c)).commitOnly]);
  // pos 5 has a flat row: KL 0 from step 2 too, conf .95 -> LLaDA commits 5 at step 3 (.95 > .9); Dream commits 4 and 5.
  assert.deepEqual(got, [
    [[], [5]],
    [[], [5]],
    [[5], [4, 5]],
  ]);
  assert.throws(() => createStopRule("klass", { variant: "mdlm" }, ctx2d()), StopRuleParamError);
});

test("less_core.py coarse_topk_js: each side's own top-K on the union of ids, the untracked mass in one bucket", () => {
  // p = [.5, .3, .15, .05] -> top-2 {0: .5, 1: .3}, other .2; q = [.4, .1, .35, .15] -> top-2 {0: .4, 2: .35}, other .25.
  // Buckets (p, q): id 0 (.5, .4), id 1 (.3, 0), id 2 (0, .35), other (.2, .25);
  // JS = 1/2 sum [p ln(p/m) + q ln(q/m)], m = (p+q)/2 = 0.22944811635675208 (Python math).
  close(coarseTopKJs([0, 1], [0.5, 0.3], [0, 2], [0.4, 0.35]), 0.22944811635675208, 1e-10);
  close(coarseTopKJs([0, 1], [0.5, 0.3], [0, 1], [0.5, 0.3]), 0);
  // Same ids in another order: the buckets are matched by id.
  close(coarseTopKJs([1, 0], [0.3, 0.5], [0, 1], [0.5, 0.3]), 0);
});

test("less (llada_less.py): conf >= 0.75, argmax unchanged the previous 2 forwards, coarse top-8 JS <= 0.04", () => {
  // vocab 2 < K = 8: the summaries hold the whole distribution, so the drift is the full JS.
  // pos 4: [3,0], x0 0 throughout, conf .95: persistence reaches 2 at step 3, drift 0 -> commit at step 3.
  // pos 5: x0 flips to 1 at step 2 -> persistence restarts: 0 (t2), 1 (t3), 2 (t4) -> commit at step 4.
  // pos 6: conf exactly .75 -> accepted (>=; this project's earlier LESS used > .9) at step 3.
  // pos 7: rows [1,0], [1,0], [4,0], [4,0]: top-1 persists, drift at step 3 = JS((sigma 4, .), (sigma 1, .))
  //        = 0.07505289060168097 > .04 -> no; step 4: drift 0 -> commit.
  const r = createStopRule("less", {}, ctx2d());
  r.beginBlock(block(0, 4, 8, 8));
  const got: number[][] = [];
  const committed = new Set<number>();
  for (let t = 1; t <= 4; t++) {
    const rows: Record<number, number[]> = { 4: [3, 0], 5: [3, 0], 6: [3, 0], 7: [t >= 3 ? 4 : 1, 0] };
    const x0 = { 4: 0, 5: t >= 2 ? 1 : 0, 6: 0, 7: 0 };
    const d = r.observe(lv(t, [...committed], rows, x0, { 4: 0.95, 5: 0.95, 6: 0.75, 7: 0.95 }));
    got.push(d.commitOnly ?? []);
    for (const p of d.commitOnly ?? []) committed.add(p);
  }
  assert.deepEqual(got, [[], [], [4, 6], [5, 7]]);
  // jsThreshold .08 admits the 0.0751 drift at step 3 (<=); union=true hands the same set as commitEarly.
  const u = createStopRule("less", { jsThreshold: 0.08, union: true }, ctx2d());
  u.beginBlock(block(0, 4, 8, 8));
  const d3 = [1, 2, 3].map((t) => u.observe(lv(t, [], { 7: [t >= 3 ? 4 : 1, 0] }, {}, { 7: 0.95 })));
  assert.deepEqual([d3[2].commitEarly, d3[2].commitOnly], [[7], undefined]);
});

test("stable-confident: stops when the canvas repeats and the mean masked entropy is < the threshold", () => {
  // Masked 5, 6, 7 with rows [5,0]: H = 0.0401796 each; 4 visible. stability 1: step 1 is never stable
  // (history -1); step 2 has the same canvas -> stop when 0.0401796 < entropy.
  const rows = { 5: [5, 0], 6: [5, 0], 7: [5, 0] };
  for (const [entropy, stop] of [[0.05, true], [0.0401796, false], [0.04, false]] as const) {
    const r = createStopRule("stable-confident", { entropy }, ctx2d());
    r.beginBlock(block(0, 4, 8, 8));
    assert.equal(r.observe(lv(1, [4], rows)).stop, false);
    assert.equal(r.observe(lv(2, [4], rows)).stop, stop, `entropy ${entropy}`);
  }
  // A changed x0 (or a committed token different from the previous prediction) is not stable.
  const r = createStopRule("stable-confident", { entropy: 0.05 }, ctx2d());
  r.beginBlock(block(0, 4, 8, 8));
  r.observe(lv(1, [4], rows, { 5: 0, 6: 0, 7: 0 }));
  assert.equal(r.observe(lv(2, [4], rows, { 5: 0, 6: 1, 7: 0 })).stop, false);
  assert.equal(r.observe(lv(3, [4], rows, { 5: 0, 6: 1, 7: 0 })).stop, true);
  // stability 0: the entropy alone decides, from step 1
  const r0 = createStopRule("stable-confident", { entropy: 0.05, stability: 0 }, ctx2d());
  r0.beginBlock(block(0, 4, 8, 8));
  assert.equal(r0.observe(lv(1, [4], rows)).stop, true);
  // temperature 2 halves the logits: H([2.5, 0]) = 0.2262... > 0.05 -> no stop
  const rt = createStopRule("stable-confident", { entropy: 0.05, stability: 0, temperature: 2 }, ctx2d());
  rt.beginBlock(block(0, 4, 8, 8));
  assert.equal(rt.observe(lv(1, [4], rows)).stop, false);
});

test("sched: the mean top-2 logit margin of the masked tokens against tau(t / T_b)", () => {
  // tau = 2 + 8 s(p): linear p = .25 -> 8; cosine p = .5 -> 6, p = .75 -> 2 + 8 (1 + cos(.75 pi))/2 = 3.1715729;
  // exp (k 3) p = 1/3 -> 2 + 8 e^-1 = 4.9430355.
  close(schedThreshold("linear", 0.25, 10, 2, 3), 8);
  close(schedThreshold("cosine", 0.5, 10, 2, 3), 6);
  close(schedThreshold("cosine", 0.75, 10, 2, 3), 3.17157287525381);
  close(schedThreshold("exp", 1 / 3, 10, 2, 3), 4.943035529371539);
  // Masked 4 ([7,0], margin 7) and 5 ([5,1], margin 4): mean 5.5. Budget 4: step 2 (tau 6) no, step 3 (3.17) stop.
  const r = createStopRule("sched", {}, ctx2d());
  r.beginBlock(block(0, 4, 6, 4));
  const v = (t: number) => {
    const x = view({ step: t, seqLen: 6, block: [4, 6], visible: [], vocab: 2, logits: { 4: [7, 0], 5: [5, 1] } });
    return x;
  };
  assert.equal(r.observe(v(2)).stop, false);
  assert.equal(r.observe(v(3)).stop, true);
  assert.throws(() => createStopRule("sched", { tauLow: 5, tauHigh: 4 }, ctx2d()), (e: unknown) => e instanceof StopRuleParamError && e.param === "tauLow");
  assert.throws(() => createStopRule("sched", { schedule: "step" }, ctx2d()), /one of: linear, cosine, exp/);
});

test("edit-cos: commits a masked token once its softmax over the modules' cosines holds for cosOmega steps", () => {
  // Modules A (u = [1,0]) and B (u = [0,1]). pos 5: f_A = f_B = [1,0] -> Sim = (1, 0), Q = softmax((1,0)/.1)
  // constant -> KL 0 from step 2 -> c = 1, 2 -> commit at step 3.
  // pos 6: f_A alternates [1,0] / [0,1] -> Q flips between (.99995, .00005) and its mirror: KL = 9.99909 -> never.
  const two = ctx({
    A: moduleMeta({ dOut: 2, u: Float32Array.from([1, 0]) }),
    B: moduleMeta({ dOut: 2, u: Float32Array.from([0, 1]) }),
  });
  const r = createStopRule("edit-cos", {}, two);
  r.beginBlock(block(0, 4, 8, 8));
  const got: number[][] = [];
  for (let t = 1; t <= 3; t++) {
    const fa = t % 2 ? [1, 0] : [0, 1];
    const acts = { A: { dim: 2, rows: { 5: [1, 0], 6: fa } }, B: { dim: 2, rows: { 5: [1, 0], 6: [1, 0] } } };
    got.push(r.observe(view({ step: t, seqLen: 8, block: [4, 8], visible: [4, 7], acts })).commitEarly ?? []);
  }
  assert.deepEqual(got, [[], [], [5]]);
  assert.throws(() => createStopRule("edit-cos", {}, ctx2d()), StopRuleContextError, "one module cannot form a distribution");
});

test("peers compose: a stop rule first, then commit rules", () => {
  const r = createStopRule("stable-confident+eb-sampler", { entropy: 0.05, gamma: 0 }, ctx2d());
  r.beginBlock(block(0, 4, 8, 8));
  const d = r.observe(lv(1, [4], { 5: [5, 0], 6: [3, 0], 7: [0, 0] }));
  assert.deepEqual([d.stop, d.commitEarly, d.commitOnly], [false, [], [5]]);
});
