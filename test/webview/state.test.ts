import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EMPTY_STATE, forwardsSoFar, reduce, tokenCells } from "../../webview/src/state";
import type { GenerationTrace } from "../../protocol/trace";

const trace = JSON.parse(readFileSync(join(__dirname, "../fixtures/traces/handmade-edit.json"), "utf8")) as GenerationTrace;

test("begin makes one empty block per block; steps fill them; trace replaces them", () => {
  let s = reduce(EMPTY_STATE, { type: "begin", prompt: "p", rule: "edit", blocks: 3, blockBudget: 16 });
  assert.equal(s.phase, "streaming");
  assert.deepEqual(s.blocks.map((b) => [b.index, b.budget, b.stepsUsed]), [[0, 16, 0], [1, 16, 0], [2, 16, 0]]);
  for (const step of trace.blocks[1].steps.slice(0, 4)) s = reduce(s, { type: "step", event: { block: 1, blockBudget: 16, delta: 0.001, step } });
  assert.equal(s.blocks[1].stepsUsed, 4);
  assert.deepEqual(s.blocks[1].points.map((p) => p.kl), [null, null, 0.34, 0.052]);
  assert.deepEqual(forwardsSoFar(s), { forwards: 4, budget: 48 });
  s = reduce(s, { type: "trace", trace });
  assert.equal(s.phase, "done");
  assert.equal(s.prompt, "p");
  assert.deepEqual(s.blocks.map((b) => [b.stepsUsed, b.stopStep, b.endedBy]), [[9, 9, "stop-rule"], [12, 12, "stop-rule"], [0, null, "eos-skip"]]);
  assert.deepEqual(forwardsSoFar(s), { forwards: 21, budget: 48 });
  assert.deepEqual(reduce(s, { type: "clear" }), EMPTY_STATE);
});

test("a step for a block the begin did not announce adds the block", () => {
  const s = reduce(EMPTY_STATE, { type: "step", event: { block: 1, blockBudget: 8, delta: null, step: trace.blocks[0].steps[0] } });
  assert.deepEqual(s.blocks.map((b) => [b.index, b.budget, b.stepsUsed]), [[0, 8, 0], [1, 8, 1]]);
  assert.equal(s.blockBudget, 8);
});

test("tokenCells: char-level text maps to positions; early = committed by the stop", () => {
  const cells = tokenCells(trace);
  assert.equal(cells.length, trace.text.length);
  assert.equal(cells.map((c) => c.text).join(""), trace.text);
  // Block 0 stopped at step 9 of 16 committing 1 + 7 positions: its 7 early ones all lie in the text (16 chars).
  assert.equal(cells.slice(0, 16).filter((c) => c.early).length, 7);
  // Block 1 stopped at step 12, 4 early positions among 16..31; the text covers 16..26.
  const promptLen = trace.promptIds.length;
  const early1 = trace.blocks[1].steps[11].early.filter((p) => p - promptLen < trace.text.length).length;
  assert.equal(cells.slice(16).filter((c) => c.early).length, early1);
  assert.deepEqual([...new Set(cells.map((c) => c.block))], [0, 1]);
});

test("BPE-like text (more characters than tokens) gives id-only cells", () => {
  const t = { ...trace, outputIds: trace.outputIds.slice(0, 10), text: "x".repeat(20) };
  const cells = tokenCells(t);
  assert.equal(cells.length, 10);
  assert.ok(cells.every((c) => c.text === null));
});
