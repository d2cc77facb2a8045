/** Shared math of the stop rules against hand-computed numbers (expected values derived in comments). */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  certify,
  cor6Holds,
  cosine,
  klDivergence,
  pinskerTv,
  renormalizeInPlace,
  runLengthTvBound,
  softmaxInto,
  tailTvBound,
  thm2Holds,
  thm4Holds,
  top2Margin,
  top2Probs,
  totalVariation,
} from "../../server/src/stop/math";
import { RunLengthGate } from "../../server/src/stop/run-length";
import { block } from "./view";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b} (tol ${tol})`);

test("cosine (Eq 5): [1,2,2]·[2,0,1] = 4 / (3 * sqrt 5)", () => {
  // dot = 2 + 0 + 2 = 4, |a| = 3, |b| = sqrt(5) = 2.2360679..., cos = 4 / 6.7082039... = 0.5962847939999439
  const a = Float32Array.from([9, 1, 2, 2]); // row at offset 1
  close(cosine(a, 1, [2, 0, 1], 0, 3), 0.5962847939999439);
  close(cosine(a, 1, [2, 0, 1], 0, 3, Math.sqrt(5)), 0.5962847939999439);
  assert.equal(cosine([0, 0, 0], 0, [2, 0, 1], 0, 3), 0, "a zero row has cosine 0");
});

test("softmax with temperature (Eq 6): [0.1, 0.3, -0.2] at tau = 0.5", () => {
  // x / tau = [0.2, 0.6, -0.4]; e^0.2 = 1.2214028, e^0.6 = 1.8221188, e^-0.4 = 0.6703200; sum = 3.7138416
  // -> [0.3288785, 0.4906291, 0.1804924]
  const out = softmaxInto([0.1, 0.3, -0.2], 3, 0.5, new Float64Array(3));
  close(out[0], 0.3288785274664994);
  close(out[1], 0.49062910979841673);
  close(out[2], 0.18049236273508376);
  // max-subtraction: huge scores do not overflow; [1000, 1000] -> [0.5, 0.5]
  const big = softmaxInto([1000, 1000], 2, 0.01, new Float64Array(2));
  assert.deepEqual([...big], [0.5, 0.5]);
});

test("matched-support renormalization (Eq 7): P = [.1,.2,.3,.4] on I = {1, 3}", () => {
  // P(1) + P(3) = 0.6 -> [0.2/0.6, 0.4/0.6] = [1/3, 2/3]
  const p = [0.2, 0.4];
  renormalizeInPlace(p, 2);
  close(p[0], 1 / 3);
  close(p[1], 2 / 3);
});

test("KL (Eq 8), total variation, Pinsker", () => {
  // KL([.5,.5] || [.25,.75]) = .5 ln 2 + .5 ln(2/3) = .5 ln(4/3) = 0.14384103622589042
  close(klDivergence([0.5, 0.5], [0.25, 0.75], 2), 0.14384103622589042);
  assert.equal(klDivergence([1, 0], [0.5, 0.5], 2), Math.log(2), "p = 0 terms contribute 0: 1 * ln 2");
  assert.equal(klDivergence([0.5, 0.5], [1, 0], 2), Infinity);
  // TV = (|.5-.25| + |.5-.75|) / 2 = 0.25 <= Pinsker sqrt(0.1438/2) = 0.2682
  close(totalVariation([0.5, 0.5], [0.25, 0.75], 2), 0.25);
  close(pinskerTv(0.08), 0.2); // sqrt(0.04)
  close(runLengthTvBound(0.08, 3), 0.6); // Lemma 1: 3 * 0.2
  close(tailTvBound(0.08, 0.5), 0.4); // Thm 4: 0.2 / (1 - 0.5)
  assert.equal(tailTvBound(0.08, 1), Infinity);
});

test("top-2 margin and top-2 probabilities", () => {
  close(top2Margin([0.2, 0.5, 0.3], 3), 0.2); // 0.5 - 0.3
  assert.equal(top2Margin([0.4, 0.4, 0.2], 3), 0, "a tie has margin 0");
  assert.ok(Number.isNaN(top2Margin([1], 1)));
  // logits [2, 1, 0]: e^2 / (e^2 + e + 1) = 7.389056 / 11.107338 = 0.6652410, e / 11.107338 = 0.2447285
  const [p1, p2] = top2Probs(Float32Array.from([5, 2, 1, 0]), 1, 3, [0, 0]);
  close(p1, 0.6652409557748219);
  close(p2, 0.24472847105479764);
});

test("Thm 2 / Thm 4 / Cor 6 flags (Eq 18, 20, 24)", () => {
  // delta = 0.02, Omega = 2: Omega sqrt(delta/2) = 2 * 0.1 = 0.2; alphaHat = 0.5: tail = 0.1 / 0.5 = 0.2
  // Thm 2 needs m > 0.4; Thm 4 needs m > 0.8; Cor 6 needs q >= 0.8.
  assert.equal(thm2Holds(0.41, 0.02, 2), true);
  assert.equal(thm2Holds(0.39, 0.02, 2), false);
  assert.equal(thm4Holds(0.81, 0.02, 2, 0.5), true);
  assert.equal(thm4Holds(0.79, 0.02, 2, 0.5), false);
  assert.equal(cor6Holds(0.02, 2, 0.5, 0.81), true);
  assert.equal(cor6Holds(0.02, 2, 0.5, 0.79), false);
  assert.equal(thm4Holds(0.99, 0.02, 2, 1), false, "alphaHat >= 1: no contraction, no certificate");

  assert.deepEqual(certify(0.5, 0.02, 2, { alphaHat: 0.5, q: 0.81 }), {
    thm2: true, // 0.2 < 0.25
    thm4: false, // 0.4 < 0.25 fails
    cor6: true, // 0.4 <= 0.405
    margin: 0.5,
    delta: 0.02,
    omega: 2,
    alphaHat: 0.5,
    q: 0.81,
  });
  const noConstants = certify(0.9, 0.02, 2, null);
  assert.equal(noConstants.thm2, true);
  assert.equal(noConstants.thm4, false);
  assert.equal(noConstants.cor6, false);
});

test("run-length counter (Alg. 1): increments on D < delta, resets on D >= delta or undefined", () => {
  const gate = new RunLengthGate({ deltaFirst: 0.1, omegaFirst: 3, deltaLater: 0.1, omegaLater: 3 }, 0, null);
  gate.beginBlock(block(0, 0, 8, 10));
  // D:      null  .05  .05  .2   .01  .1 (= delta: unstable)  .01  .02  .03
  // c:      0     1    2    0    1    0                       1    2    3  -> stop at step 9 (9 < 10)
  const ds = [null, 0.05, 0.05, 0.2, 0.01, 0.1, 0.01, 0.02, 0.03];
  const counters: number[] = [];
  const stops: boolean[] = [];
  ds.forEach((d, i) => {
    stops.push(gate.update(i + 1, d, 0.5));
    counters.push(gate.counter);
  });
  assert.deepEqual(counters, [0, 1, 2, 0, 1, 0, 1, 2, 3]);
  assert.deepEqual(stops, [false, false, false, false, false, false, false, false, true]);
  assert.equal(gate.update(10, 0.01, 0.5), false, "one stop per block");
});

test("run-length gate: no stop at t = budget, nor when t + polishSteps >= budget", () => {
  // Omega = 3, budget 3: c reaches 3 at step 3 = T_b, nothing to save
  const gate = new RunLengthGate({ deltaFirst: 0.1, omegaFirst: 3, deltaLater: 0.1, omegaLater: 3 }, 0, null);
  gate.beginBlock(block(0, 0, 4, 3));
  assert.deepEqual([gate.update(1, 0.01, 1), gate.update(2, 0.01, 1), gate.update(3, 0.01, 1)], [false, false, false]);
  assert.equal(gate.counter, 3);
  assert.equal(gate.certificate(), null);

  const polished = new RunLengthGate({ deltaFirst: 0.1, omegaFirst: 2, deltaLater: 0.1, omegaLater: 2 }, 2, null);
  polished.beginBlock(block(0, 0, 8, 5));
  // c reaches 2 at step 2: 2 + 2 = 4 < 5 -> stop
  assert.deepEqual([polished.update(1, 0.01, 1), polished.update(2, 0.01, 1)], [false, true]);
  polished.beginBlock(block(1, 0, 8, 4));
  // later block, budget 4: step 2 + 2 = 4 >= 4 -> no stop; step 3 neither
  assert.deepEqual([polished.update(1, 0.01, 1), polished.update(2, 0.01, 1), polished.update(3, 0.01, 1)], [false, false, false]);
});
