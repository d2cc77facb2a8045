/** The context sweep and its statistics: cells per prompt length x mode, lengths past max_len skipped. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runContextSweep, sweepMarkdown } from "../../research/src/bench/context-sweep";
import { median, quantile } from "../../research/src/bench/stats-util";
import { defaultBundleDir } from "../../server/src/bundle/locate";

test("quantile: linear interpolation (numpy's default), by hand", () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(quantile([0, 10, 20, 30, 40], 0.95), 38); // h = 4 * 0.95 = 3.8 -> 30 + 0.8 * 10
  assert.ok(Number.isNaN(median([])));
});

test("context sweep: one cell per prompt length and mode; a length past max_len is skipped with the reason", async () => {
  const r = await runContextSweep({
    bundleDir: defaultBundleDir(),
    promptTokens: [8, 200],
    modes: ["none", "prefix"],
    reps: 1,
    threads: 1,
    text: "let x = 1;\n",
  });
  assert.deepEqual(r.cells.map((c) => [c.promptTokens, c.mode]), [[8, "none"], [8, "prefix"]]);
  assert.equal(r.cells[0].speedupVsNone, 1);
  // none computes prompt + gen = 8 + 64 tokens every forward.
  assert.equal(r.cells[0].tokensPerForward, 72);
  assert.ok(r.cells[1].tokensPerForward < 72);
  assert.deepEqual(r.skipped, [{ promptTokens: 200, why: "prompt 200 + gen 64 > max_len 192" }]);
  assert.match(sweepMarkdown(r), /\| 8 \| prefix \|/);
});
