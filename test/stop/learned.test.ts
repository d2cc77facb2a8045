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
  const w: CommitPolicyWeights = {
    format: COMMIT_POLICY_FORMAT,
    features: ["conf"],
    mean: [0.5],
    std: [0.25],
    layers: [
      { w: [[1], [-1]], b: [0, 0] },
      { w: [[2, -3]], b: [0.5] },
    ],
  };
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
