/**
 * The learned commit policy: its per-token features (commit-features.ts) and its MLP forward on a
 * hand-set network, with numbers computed by hand (closed forms in the comments).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { CommitFeatures, FEATURE_NAMES } from "../../server/src/stop/commit-features";
import { COMMIT_POLICY_FORMAT, commitPolicyProblem, type CommitPolicyWeights } from "../../server/src/stop/commit-policy";
import type { LearnedRule } from "../../server/src/stop/learned";
import { StopRuleContextError } from "../../server/src/stop/errors";
import { block, ctx, moduleMeta, view } from "./view";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

/** A hand-set policy over conf: mean .5, std .25; h = relu([x, -x]); z = 2 h1 - 3 h2 + .5; P = sigma(z). */
const CONF_NET: CommitPolicyWeights = {
  format: COMMIT_POLICY_FORMAT,
  features: ["conf"],
  mean: [0.5],
  std: [0.25],
  layers: [
    { w: [[1], [-1]], b: [0, 0] },
    { w: [[2, -3]], b: [0.5] },
  ],
};

/** Two 2-d probe modules: u_a = [1, 0], u_b = [0, 1]. */
function ctx2(policies?: Record<string, CommitPolicyWeights>) {
  const c = ctx({ a: moduleMeta({ dOut: 2, u: Float32Array.from([1, 0]) }), b: moduleMeta({ dOut: 2, u: Float32Array.from([0, 1]) }) });
  return policies ? { ...c, commitPolicies: policies } : c;
}

/** Block [4, 8) of 8, vocab 2; rows [x, 0] per masked position; both modules' activation rows = [1, 1]. */
function fv(step: number, visible: number[], rows: Record<number, number>) {
  const logits: Record<number, number[]> = {};
  for (const [p, x] of Object.entries(rows)) logits[Number(p)] = [x, 0];
  const acts = Object.fromEntries(["a", "b"].map((m) => [m, { dim: 2, rows: Object.fromEntries([4, 5, 6, 7].map((p) => [p, [1, 1]])) }]));
  const v = view({ step, seqLen: 8, block: [4, 8], visible, vocab: 2, logits, acts });
  v.masked.forEach((p, i) => {
    v.x0[i] = 0;
    v.confidence[i] = 1 / (1 + Math.exp(-(rows[p] ?? 0)));
  });
  return v;
}

test("commit features: confidence, margin, entropy, stability, position, fill, progress, left neighbour, EDIT cosine and drift", () => {
  const f = new CommitFeatures(ctx2(), "t");
  f.beginBlock(block(0, 4, 8, 4));
  const r1 = f.compute(fv(1, [], { 4: 2, 5: 0, 6: 0, 7: 0 }), "t");
  // pos 4, row [2, 0]: p = sigma(2) = 0.8807970779778823; margin 2p - 1; H = -(p ln p + (1-p) ln(1-p)) = 0.3665141546
  const p = 1 / (1 + Math.exp(-2));
  close(r1[0][0], p);
  close(r1[0][1], 2 * p - 1);
  close(r1[0][2], -(p * Math.log(p) + (1 - p) * Math.log(1 - p)));
  // stable 0 (first view), offset 0, filled 0, progress 1/4, left 1 (position 3 is the prompt);
  // cos([1,1], [1,0]) = cos([1,1], [0,1]) = 1/sqrt 2 -> editCos 0.70710678; no previous step -> editDrift -1.
  assert.deepEqual(Array.from(r1[0].slice(3, 8)), [0, 0, 0, 0.25, 1]);
  close(r1[0][8], Math.SQRT1_2, 1e-7);
  assert.equal(r1[0][9], -1);
  assert.equal(r1[1][7], 0, "position 5's left neighbour 4 is masked");
  // Step 2 with 4 committed: position 5 has run 1 (x0 unchanged) -> stable 1/8, offset 1/4, filled 1/4,
  // left 1; Q is the same uniform [.5, .5] both steps -> KL 0 -> editDrift log10(1e-12) / 12 = -1.
  const r2 = f.compute(fv(2, [4], { 5: 0, 6: 0, 7: 0 }), "t");
  assert.deepEqual(Array.from(r2[0].slice(3, 8)), [0.125, 0.25, 0.25, 0.5, 1]);
  close(r2[0][9], -1, 1e-9);
  assert.deepEqual(FEATURE_NAMES.length, r2[0].length);
});

test("learned: commits exactly the tokens whose MLP output P(final) > threshold", () => {
  // features [conf], mean .5, std .25; h = relu([x, -x]); z = 2 h1 - 3 h2 + .5.
  // conf sigma(2) = .880797: x = 1.523188, z = 2 x + .5 = 3.546376, P = sigma(z) = 0.97199...
  // conf .5 (row [0, 0]): x = 0 -> z = .5 -> P = 0.622459; threshold .7 -> only position 4.
  const w = CONF_NET;
  assert.equal(commitPolicyProblem(w), null);
  const r = createStopRule("learned", { threshold: 0.7 }, ctx2({ default: w })) as LearnedRule;
  r.beginBlock(block(0, 4, 8, 4));
  const d = r.observe(fv(1, [], { 4: 2, 5: 0, 6: 0, 7: 0 }));
  const x = (1 / (1 + Math.exp(-2)) - 0.5) / 0.25;
  close(r.lastProbs[0], 1 / (1 + Math.exp(-(2 * x + 0.5))));
  close(r.lastProbs[1], 1 / (1 + Math.exp(-0.5)));
  assert.deepEqual([d.commitOnly, d.commitEarly], [[4], undefined]);
  // Bad files and a missing policy are errors naming what is wrong.
  assert.match(String(commitPolicyProblem({ ...w, layers: [{ w: [[1, 2]], b: [0] }] })), /layers\[0\]/);
  assert.match(String(commitPolicyProblem({ ...w, features: ["nope"] })), /features/);
  assert.throws(() => createStopRule("learned", { policy: "no-edit" }, ctx2({ default: w })), StopRuleContextError);
  assert.throws(() => createStopRule("learned", {}, ctx2()), /commit_policies/);
});

/** ctx2 with the bundle's eos id 1. */
function ctxEos(policies?: Record<string, CommitPolicyWeights>) {
  return { ...ctx2(policies), eosId: 1 };
}

/** fv with x0 set per masked position (vocab ids 0/1; 1 = eos). */
function fvX0(step: number, visible: number[], rows: Record<number, number>, x0: Record<number, number>) {
  const v = fv(step, visible, rows);
  v.masked.forEach((p, i) => (v.x0[i] = x0[p] ?? 0));
  return v;
}

const sig = (z: number) => 1 / (1 + Math.exp(-z));

test("commit features: eos, past the answer's end, least confident masked neighbour to the left, confidence rank", () => {
  const f = new CommitFeatures(ctxEos(), "t");
  f.beginBlock(block(0, 4, 8, 4));
  // x0 = [0, eos, 0, eos] at 4..7, confidences sigma(2), sigma(0), sigma(1), sigma(3).
  const v = fvX0(1, [], { 4: 2, 5: 0, 6: 1, 7: 3 }, { 5: 1, 7: 1 });
  assert.equal(f.firstEos(v), 5);
  const r = f.compute(v, "t");
  const col = (name: string) => r.map((row) => row[FEATURE_NAMES.indexOf(name as (typeof FEATURE_NAMES)[number])]);
  assert.deepEqual(col("isEos"), [0, 1, 0, 1]);
  assert.deepEqual(col("afterEos"), [0, 0, 1, 1], "6 and 7 lie past the first eos (5)");
  // minConfLeft: none left of 4 -> 1; 5 -> sigma(2); 6 and 7 -> min(sigma(2), sigma(0)) = .5
  assert.deepEqual(col("minConfLeft"), [1, sig(2), 0.5, 0.5]);
  // More confident masked positions: 4 has one (7), 5 has three, 6 two, 7 none; / (4 - 1)
  assert.deepEqual(col("confRank"), [1 / 3, 1, 2 / 3, 0]);
  // A committed eos counts too: 5 visible and holding eos, every x0 plain -> first eos 5.
  const w = fvX0(2, [5], { 4: 2, 6: 1, 7: 3 }, {});
  w.ids[5] = 1;
  assert.equal(f.firstEos(w), 5);
  assert.deepEqual(f.compute(w, "t").map((row) => row[FEATURE_NAMES.indexOf("afterEos")]), [0, 1, 1]);
  // Without an eos id in the bundle there is no eos.
  const g = new CommitFeatures(ctx2(), "t");
  g.beginBlock(block(0, 4, 8, 4));
  assert.equal(g.firstEos(v), -1);
});

test("learned: the end-of-answer network commits the first eos, and a settled answer stops the block", () => {
  // Token network as in the test above: P = sigma(2 x + .5) for x = (conf - .5) / .25 > 0 (the relu(-x)
  // branch is zero there), sigma(.5 - 3 |x|) below: conf sigma(2) -> .97199, .5 -> .62246, sigma(1) -> .91337,
  // sigma(3) -> .98395. End-of-answer network over minConfLeft: P = sigma(4 relu(m) - 2).
  const eoaNet = { features: ["minConfLeft" as const], mean: [0], std: [1], layers: [{ w: [[1]], b: [0] }, { w: [[4]], b: [-2] }] };
  const w: CommitPolicyWeights = { ...CONF_NET, end_of_answer: eoaNet };
  assert.equal(commitPolicyProblem(w), null);
  assert.match(String(commitPolicyProblem({ ...w, end_of_answer: { ...eoaNet, mean: [] } })), /^end_of_answer: mean/);
  const run = (params: Record<string, number | boolean>, v = fvX0(1, [], { 4: 2, 5: 0, 6: 1, 7: 3 }, { 5: 1, 7: 1 })) => {
    const r = createStopRule("learned", { threshold: 0.95, ...params }, ctxEos({ default: w })) as LearnedRule;
    r.beginBlock(block(0, 4, 8, 4));
    return { d: r.observe(v), r };
  };
  // Token set at .95: 4 (.97199) and 7 (.98395). First eos 5; its minConfLeft sigma(2) = .880797:
  // P(end) = sigma(4 * .880797 - 2) = sigma(1.523188) = .82098.
  const a = run({ eosThreshold: 0.8 });
  close(a.r.lastEoaProb!, sig(4 * sig(2) - 2));
  // .82098 > .8: 5 is committed, 4 (left of it) too: nothing before the answer's end is masked -> stop.
  assert.equal(a.d.stop, true);
  // Below the end-of-answer threshold: only the token set.
  const b = run({ eosThreshold: 0.9 });
  assert.deepEqual([b.d.stop, b.d.commitOnly], [false, [4, 7]]);
  // settle=false: the end is committed but the block goes on.
  const c = run({ eosThreshold: 0.8, settle: false });
  assert.deepEqual([c.d.stop, c.d.commitOnly], [false, [4, 5, 7]]);
  // A committed eos at 5 with 4 still masked and under the threshold (conf .5): no stop, nothing else to commit.
  const v = fvX0(2, [5], { 4: 0, 6: 1, 7: 3 }, {});
  v.ids[5] = 1;
  const e = run({ eosThreshold: 0.8 }, v);
  assert.equal(e.r.lastEoaProb, null, "the end is already committed: no end-of-answer prediction");
  assert.deepEqual([e.d.stop, e.d.commitOnly], [false, [7]]);
  // ... and once 4 passes the threshold, the answer is settled.
  const v2 = fvX0(2, [5], { 4: 2, 6: 1, 7: 3 }, {});
  v2.ids[5] = 1;
  assert.equal(run({}, v2).d.stop, true);
});

test("learned budget: the most likely final tokens while the sum of (1 - P) stays within the budget", () => {
  // The token network above: P = sigma(2 x + .5), x = (conf - .5) / .25: .971979 (4, conf sigma(2)),
  // .622459 (5), .912812 (6, sigma(1)), .984024 (7, sigma(3)). Cumulative 1 - P in descending order:
  // 7 .015976, 4 .043997, 6 .131184, 5 .508725.
  const w = CONF_NET;
  const commits = (params: Record<string, number>) => {
    const r = createStopRule("learned", params, ctx2({ default: w })) as LearnedRule;
    r.beginBlock(block(0, 4, 8, 4));
    return r.observe(fv(1, [], { 4: 2, 5: 0, 6: 1, 7: 3 })).commitOnly;
  };
  const p = [sig(2 * ((sig(2) - 0.5) / 0.25) + 0.5), sig(2 * ((sig(1) - 0.5) / 0.25) + 0.5), sig(2 * ((sig(3) - 0.5) / 0.25) + 0.5)];
  close(1 - p[2] + (1 - p[0]), 0.043997, 1e-6);
  close(1 - p[2] + (1 - p[0]) + (1 - p[1]), 0.131184, 1e-6);
  assert.deepEqual(commits({ threshold: 1, budget: 0.1 }), [4, 7]);
  assert.deepEqual(commits({ threshold: 1, budget: 0.15 }), [4, 6, 7]);
  assert.deepEqual(commits({ threshold: 1, budget: 0.01 }), [], "not even the first fits: the sampler's top-k_t then");
  // The threshold still commits on its own: .9 takes 4, 6 and 7 whatever the budget.
  assert.deepEqual(commits({ threshold: 0.9, budget: 0.01 }), [4, 6, 7]);
});
