/**
 * edit and edit-subspace on hand-built StepViews. Module: d = 2, u = [1, 0], so Sim = cos(f, u) = f0 / |f|:
 * [1,0] -> 1, [0,1] -> 0, [3,4] -> 0.6, [4,3] -> 0.8. Block [4, 8) of an 8-token sequence (0..3 = prompt).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { StopRuleContextError } from "../../server/src/stop/errors";
import { PROBE, block, ctx, ctx2d, moduleMeta, view } from "./view";

const close = (a: number | null | undefined, b: number, tol = 1e-12) =>
  assert.ok(typeof a === "number" && Math.abs(a - b) <= tol, `${a} != ${b}`);
const rows = (r: Record<number, number[]>) => ({ [PROBE]: { dim: 2, rows: r } });
const ROWS = { 4: [1, 0], 5: [0, 1], 6: [3, 4], 7: [4, 3] };
const step = (t: number, visible: number[], r: Record<number, number[]> = ROWS) =>
  view({ step: t, seqLen: 8, block: [4, 8], visible, acts: rows(r) });

test("edit: D_t undefined while |I_t| < 2, then stops exactly when c reaches Omega", () => {
  const rule = createStopRule("edit", { deltaFirst: 1e-4, omegaFirst: 2 }, ctx2d({ certificates: { alphaHat: 0.5, q: 0.2 } }));
  rule.beginBlock(block(0, 4, 8, 8));
  const d1 = rule.observe(step(1, []));
  assert.deepEqual([d1.stop, d1.sims, d1.kl, d1.counter, d1.margin], [false, [], null, 0, null]);
  const d2 = rule.observe(step(2, [4])); // I = {} (S_1 empty)
  assert.deepEqual([d2.stop, d2.sims, d2.kl, d2.counter], [false, [1], null, 0]);
  const d3 = rule.observe(step(3, [4, 5])); // I = {4}: one-token support, unstable
  assert.deepEqual([d3.stop, d3.sims, d3.kl, d3.counter, d3.margin], [false, [1, 0], null, 0, null]);
  // I = {4, 5}, sims unchanged there -> P~(4) = P~(3) = softmax([1, 0]) = [0.7310586, 0.2689414]: D = 0
  const d4 = rule.observe(step(4, [4, 5, 6]));
  assert.equal(d4.stop, false);
  close(d4.kl, 0, 1e-15);
  assert.equal(d4.counter, 1);
  close(d4.margin, 0.4621171572600098); // 0.7310586 - 0.2689414
  close(d4.sims![2], 0.6, 1e-7); // [3,4] in float32
  // I = {4,5,6}: D = 0 again, c = 2 = Omega at step 5 < T_b = 8 -> stop.
  // m_5 = softmax([1, 0, 0.6]) top-2: 0.4906291 - 0.3288785 = 0.1617506
  const d5 = rule.observe(step(5, [4, 5, 6, 7]));
  assert.equal(d5.stop, true);
  assert.equal(d5.counter, 2);
  close(d5.margin, 0.1617505823319173, 1e-7);
  // Certificates, delta = 1e-4, Omega = 2: 2 sqrt(5e-5) = 0.0141421 < m/2 = 0.0808753 (Thm 2);
  // + sqrt(5e-5) / (1 - 0.5) = 0.0282843 < 0.0808753 (Thm 4); 0.0282843 <= q/2 = 0.1 (Cor 6)
  const cert = rule.certificate!()!;
  assert.deepEqual([cert.thm2, cert.thm4, cert.cor6, cert.delta, cert.omega, cert.alphaHat, cert.q], [true, true, true, 1e-4, 2, 0.5, 0.2]);
  close(cert.margin, 0.1617505823319173, 1e-7);
  assert.deepEqual(rule.blockThresholds(), { delta: 1e-4, omega: 2 });
  assert.equal(rule.polishSteps, 0);
});

test("edit: Cor 6 false when q is small; no certificate without a stop", () => {
  const rule = createStopRule("edit", { deltaFirst: 1e-4, omegaFirst: 2 }, ctx2d({ certificates: { alphaHat: 0.5, q: 0.05 } }));
  rule.beginBlock(block(0, 4, 8, 8));
  assert.equal(rule.certificate!(), null);
  for (const [t, v] of [[1, [4, 5]], [2, [4, 5]], [3, [4, 5, 6]]] as const) rule.observe(step(t, [...v]));
  const cert = rule.certificate!()!;
  // 0.0282843 <= 0.025 fails; Thm 2/4 hold on m = 0.4621
  assert.deepEqual([cert.thm2, cert.thm4, cert.cor6], [true, true, false]);
});

test("edit: no stop at t = T_b even when c >= Omega", () => {
  const rule = createStopRule("edit", { deltaFirst: 1e-4, omegaFirst: 2 }, ctx2d());
  rule.beginBlock(block(0, 4, 8, 3));
  const ds = [step(1, [4, 5]), step(2, [4, 5]), step(3, [4, 5])].map((v) => rule.observe(v));
  assert.deepEqual(ds.map((d) => [d.stop, d.counter]), [[false, 0], [false, 1], [false, 2]]);
  assert.equal(rule.certificate!(), null);
});

test("edit: D_t = KL(P~(t) || P~(t-1)) on a changing support, first vs later block thresholds", () => {
  const rule = createStopRule("edit", { deltaFirst: 0.1, omegaFirst: 2, deltaLater: 0.2, omegaLater: 2 }, ctx2d());
  const a = { 4: [1, 0], 5: [0, 1] }; // sims [1, 0]
  const b = { 4: [1, 0], 5: [1, 0] }; // sims [1, 1]
  for (const index of [0, 1]) {
    rule.beginBlock(block(index, 4, 8, 8));
    const d1 = rule.observe(step(1, [4, 5], a));
    // KL(softmax[1,1] || softmax[1,0]) = .5 ln(.5/.7310586) + .5 ln(.5/.2689414) = 0.1201145
    const d2 = rule.observe(step(2, [4, 5], b));
    // KL(softmax[1,0] || softmax[1,1]) = .7310586 ln(2 * .7310586) + .2689414 ln(2 * .2689414) = 0.1109441
    const d3 = rule.observe(step(3, [4, 5], a));
    assert.equal(d1.kl, null);
    close(d2.kl, 0.12011450695827758);
    close(d2.margin, 0);
    close(d3.kl, 0.11094407167172735);
    close(d3.margin, 0.4621171572600098);
    if (index === 0) {
      // delta 0.1: both unstable
      assert.deepEqual(rule.blockThresholds(), { delta: 0.1, omega: 2 });
      assert.deepEqual([d2.counter, d3.counter, d3.stop], [0, 0, false]);
    } else {
      // delta 0.2: c = 1, 2 -> stop at step 3
      assert.deepEqual(rule.blockThresholds(), { delta: 0.2, omega: 2 });
      assert.deepEqual([d2.counter, d3.counter, d2.stop, d3.stop], [1, 2, false, true]);
    }
  }
});

test("edit: tau sharpens P (Eq 6)", () => {
  const rule = createStopRule("edit", { tau: 0.5 }, ctx2d());
  rule.beginBlock(block(0, 4, 8, 8));
  rule.observe(step(1, [4, 5], { 4: [1, 0], 5: [0, 1] }));
  // softmax([1,0]/0.5) = [0.8807971, 0.1192029]; KL([.5,.5] || that) = 0.4337808
  const d = rule.observe(step(2, [4, 5], { 4: [1, 0], 5: [1, 0] }));
  close(d.kl, 0.4337808304830273);
});

test("edit-subspace: Sim_s = ||U^T f_s|| / ||f_s|| (Eq 31)", () => {
  // U = first two axes of R^3. [1,2,2] -> sqrt(5)/3 = 0.7453560; [0,0,5] -> 0; [3,4,0] -> 1; zero row -> 0
  const c = ctx({ [PROBE]: moduleMeta({ dOut: 3, subspace: Float32Array.from([1, 0, 0, 1, 0, 0]), k: 2 }) });
  const rule = createStopRule("edit-subspace", {}, c);
  rule.beginBlock(block(0, 4, 8, 8));
  const r = { [PROBE]: { dim: 3, rows: { 4: [1, 2, 2], 5: [0, 0, 5], 6: [3, 4, 0] } } };
  const d1 = rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4, 5, 6, 7], acts: r }));
  assert.equal(d1.sims!.length, 4);
  close(d1.sims![0], 0.7453559924999299);
  assert.deepEqual(d1.sims!.slice(1), [0, 1, 0]);
  const d2 = rule.observe(view({ step: 2, seqLen: 8, block: [4, 8], visible: [4, 5, 6, 7], acts: r }));
  assert.equal(d2.kl, 0);
  assert.equal(d2.counter, 1);
});

test("edit: missing activations or metadata are typed errors", () => {
  const rule = createStopRule("edit", {}, ctx2d());
  rule.beginBlock(block(0, 4, 8, 8));
  assert.throws(() => rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4] })), StopRuleContextError);
  assert.throws(() => createStopRule("edit", { probe: "blocks.0.attn.k_proj" }, ctx2d()), /probe module "blocks.0.attn.k_proj"/);
  assert.throws(() => createStopRule("edit-subspace", {}, ctx({ [PROBE]: moduleMeta({ dOut: 2 }) })), /subspace/);
});
