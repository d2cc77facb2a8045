/** Hand-computed checks of the evaluation statistics (McNemar, Spearman, matched-N interpolation). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { averageRanks, matchFixed, mcnemarExact, pairedCounts, paretoFront, quantiles, spearman } from "../../research/src/eval/stats";

const near = (a: number | null, b: number, what: string, tol = 1e-12) => assert.ok(a !== null && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test("exact McNemar: b=1, c=6 -> 2 * (C(7,0) + C(7,1)) / 2^7 = 16/128", () => {
  near(mcnemarExact(1, 6), 16 / 128, "p");
  near(mcnemarExact(6, 1), 16 / 128, "symmetric");
});

test("exact McNemar: b=2, c=8 -> 2 * (1 + 10 + 45) / 1024", () => {
  near(mcnemarExact(2, 8), 112 / 1024, "p");
});

test("exact McNemar: no discordant pairs or a balanced table gives p = 1; 0 vs 10 gives 2/1024", () => {
  assert.equal(mcnemarExact(0, 0), 1);
  assert.equal(mcnemarExact(5, 5), 1);
  near(mcnemarExact(0, 10), 2 / 1024, "p");
});

test("paired counts of a hand-made table", () => {
  const a = [true, true, false, false, true, false];
  const b = [true, false, true, false, false, false];
  assert.deepEqual(pairedCounts(a, b), { both: 1, onlyA: 2, onlyB: 1, neither: 2 });
});

test("Spearman without ties: 1 - 6 * sum d^2 / (n (n^2 - 1)) = 1 - 24/120 = 0.8", () => {
  near(spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]), 0.8, "rho");
});

test("Spearman with ties uses average ranks: x ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4] -> 4.5 / sqrt(4.5 * 5)", () => {
  assert.deepEqual(averageRanks([1, 2, 2, 3]), [1, 2.5, 2.5, 4]);
  near(spearman([1, 2, 2, 3], [10, 20, 30, 40]), 4.5 / Math.sqrt(22.5), "rho");
});

test("Spearman of a constant side is undefined (a fixed cut has no correlation)", () => {
  assert.equal(spearman([6, 6, 6], [3, 9, 12]), null);
});

test("matched fixed: linear interpolation between the neighbouring N", () => {
  const pts = [
    { n: 1, forwardsPerBlock: 1, accuracy: 0.1 },
    { n: 2, forwardsPerBlock: 2, accuracy: 0.3 },
    { n: 3, forwardsPerBlock: 3, accuracy: 0.6 },
  ];
  const m = matchFixed(pts, 2.25);
  assert.equal(m.lo.n, 2);
  assert.equal(m.hi.n, 3);
  near(m.weight, 0.25, "weight");
  near(m.accuracy, 0.375, "accuracy");
  assert.equal(m.nearest.n, 2);
  assert.equal(m.clamped, false);
  const exact = matchFixed(pts, 2);
  assert.equal(exact.lo.n, 2);
  assert.equal(exact.hi.n, 2);
  near(exact.accuracy, 0.3, "on a point");
  const above = matchFixed(pts, 3.5);
  assert.equal(above.clamped, true);
  assert.equal(above.hi.n, 3);
  near(above.accuracy, 0.6, "clamped");
});

test("quantiles interpolate linearly between order statistics (numpy's default)", () => {
  assert.deepEqual(quantiles([4, 1, 3, 2], [0, 0.25, 0.5, 1]), [1, 1.75, 2.5, 4]);
});

test("Pareto front keeps the points no other point beats on both axes", () => {
  const pts = [
    { id: "a", forwardsPerBlock: 4, accuracy: 0.5 },
    { id: "b", forwardsPerBlock: 6, accuracy: 0.4 },
    { id: "c", forwardsPerBlock: 8, accuracy: 0.7 },
    { id: "d", forwardsPerBlock: 4, accuracy: 0.3 },
  ];
  assert.deepEqual(paretoFront(pts).map((p) => p.id), ["a", "c"]);
});
