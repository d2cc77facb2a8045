/** generate's summary line says what saved the forwards (hand-built traces, counts by hand). */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { BlockTrace, GenerationTrace } from "../../protocol/trace";
import { savedClause, summaryLine } from "../../server/src/cli/generate";

function block(index: number, stepsUsed: number, endedBy: BlockTrace["endedBy"], stopStep: number | null = null): BlockTrace {
  return { index, start: 32 * index, end: 32 * (index + 1), budget: 16, stepsUsed, stopStep, endedBy, delta: null, omega: null, certificate: null, steps: [] };
}

function trace(blocks: BlockTrace[], rule = "jot"): GenerationTrace {
  const forwards = blocks.reduce((s, b) => s + b.stepsUsed, 0);
  return {
    version: 1, bundle: "b", provider: "cpu", rule, params: {}, task: "countdown", promptIds: [], outputIds: [], text: "", genLength: 32 * blocks.length,
    blockLength: 32, steps: 16 * blocks.length, blocks,
    totals: { forwards, budget: 16 * blocks.length, certifiedFraction: null, forwardMs: 0, ruleMs: 0, wallMs: 99 },
  };
}

test("parallel commits and an eos skip are named with their counts", () => {
  // block 1: 4 of 16 forwards (12 saved, all committed), block 2: skipped after eos (16 saved).
  const t = trace([block(0, 4, "all-committed"), block(1, 0, "eos-skip")]);
  assert.equal(savedClause(t), ", 28 saved: 12 by committing tokens in parallel, 16 by skipping block 2 after eos");
  assert.equal(summaryLine(t), "forwards 4/32 (12.5%), 28 saved: 12 by committing tokens in parallel, 16 by skipping block 2 after eos | blocks stopped 0/1, certified 0/0 | rule jot | cpu | 99 ms");
});

test("an early stop is told apart from the budget", () => {
  const t = trace([block(0, 10, "stop-rule", 10), block(1, 16, "budget"), block(2, 0, "eos-skip"), block(3, 0, "eos-skip")], "edit");
  assert.equal(savedClause(t), ", 38 saved: 6 by the rule's early stop, 32 by skipping blocks 3, 4 after eos");
  assert.equal(savedClause(trace([block(0, 16, "budget")])), "");
});
