/**
 * The confidence gate of inline completions on a hand-made trace: prompt of 2 ids, 4 generated
 * positions (2..5) committed over two steps with known top-1 probabilities.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GenerationTrace, StepTrace } from "../../protocol/trace";
import { gate, gateStatistic, generatedTokenProbs } from "../../server/src/daemon/inline-gate";

function step(n: number, committed: number[], probs: number[] | undefined): StepTrace {
  return {
    step: n,
    visible: [],
    sims: null,
    kl: null,
    counter: null,
    margin: null,
    committed,
    committedIds: committed.map(() => 7),
    ...(probs ? { committedProbs: probs } : {}),
    early: [],
    polish: false,
    forwardMs: 0,
    ruleMs: 0,
  };
}

function trace(withProbs: boolean): GenerationTrace {
  return {
    version: 1,
    bundle: "t",
    provider: "cpu",
    rule: "full",
    params: {},
    task: "code",
    promptIds: [1, 2],
    outputIds: [7, 7, 7, 7],
    text: "abcd",
    genLength: 4,
    blockLength: 4,
    steps: 2,
    blocks: [
      {
        index: 0,
        start: 2,
        end: 6,
        budget: 2,
        stepsUsed: 2,
        stopStep: null,
        endedBy: "budget",
        delta: null,
        omega: null,
        certificate: null,
        // Positions 3 and 5 first (p 0.9, 0.5), then 2 and 4 (p 0.8, 0.2).
        steps: [step(1, [3, 5], withProbs ? [0.9, 0.5] : undefined), step(2, [2, 4], withProbs ? [0.8, 0.2] : undefined)],
      },
    ],
    totals: { forwards: 2, budget: 2, certifiedFraction: null, forwardMs: 0, ruleMs: 0, wallMs: 0 },
  };
}

test("probabilities come back in position order, cut to the shown tokens", () => {
  assert.deepEqual(generatedTokenProbs(trace(true), 4), [0.8, 0.9, 0.2, 0.5]);
  assert.deepEqual(generatedTokenProbs(trace(true), 2), [0.8, 0.9]);
  assert.deepEqual(generatedTokenProbs(trace(true), 10), [0.8, 0.9, 0.2, 0.5]);
  assert.equal(generatedTokenProbs(trace(false), 4), null);
});

test("mean and min statistics", () => {
  assert.equal(gateStatistic([0.8, 0.9, 0.2, 0.5], "min"), 0.2);
  assert.ok(Math.abs(gateStatistic([0.8, 0.9, 0.2, 0.5], "mean") - 0.6) < 1e-12);
  assert.equal(gateStatistic([], "mean"), 0);
});

test("the gate hides a completion below the threshold and says why", () => {
  // Shown text "ab": tokens at positions 2, 3 -> mean 0.85, min 0.8.
  assert.deepEqual(gate(trace(true), "ab", { threshold: 0.8, statistic: "min" }), { show: true, confidence: 0.8 });
  const v = gate(trace(true), "abcd", { threshold: 0.7, statistic: "mean" });
  assert.equal(v.show, false);
  assert.ok(!v.show && /low confidence \(mean top-1 probability 0\.60 < 0\.7\)/.test(v.reason));
});

test("threshold 0 shows everything; a trace without probabilities is not vouched for", () => {
  assert.deepEqual(gate(trace(true), "abcd", { threshold: 0, statistic: "mean" }), { show: true, confidence: null });
  assert.deepEqual(gate(trace(false), "abcd", { threshold: 0, statistic: "mean" }), { show: true, confidence: null });
  const v = gate(trace(false), "abcd", { threshold: 0.5, statistic: "mean" });
  assert.equal(v.show, false);
  assert.ok(!v.show && /no confidence signal/.test(v.reason) && /edit\.inline\.minConfidence to 0/.test(v.reason));
});
