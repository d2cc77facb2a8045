/** The learned policy's report (research/src/eval/learned-report.ts) on hand-built summaries; counts by hand. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigSummary, EvalSummary, TaskSummary } from "../../research/src/eval/analyze";
import type { Family } from "../../research/src/eval/configs";
import { learnedMarkdown } from "../../research/src/eval/learned-report";

function cfg(id: string, family: Family, params: Record<string, number | string>, outcomes: string, fpb: number): ConfigSummary {
  const correct = [...outcomes].filter((x) => x === "1").length;
  return {
    id, family, rule: family.startsWith("learned") ? "learned" : family, params, polish: 0, items: outcomes.length, correct,
    accuracy: correct / outcomes.length, forwardsPerBlock: fpb, forwardsPerItem: 2 * fpb, stopFraction: 0, atEarliestFraction: null,
    spearman: null, spearmanBlocks: 0, matched: null, outcomes, sameAsFull: 0,
  };
}
const task = (full: string, configs: ConfigSummary[]): TaskSummary => ({
  items: full.length, full: cfg("full", "full", {}, full, 16), oracle: cfg("oracle", "oracle", {}, full, 6), configs, fronts: {}, dt: [],
});
const summary = (val: TaskSummary, test: TaskSummary): EvalSummary => ({
  bundle: "hand", provider: "cpu", generatedAt: "", budget: 16, numBlocks: 2, blockLength: 32, counts: [], releasedAvailable: false,
  tolerance: 0.05, splits: { val: { arith: val }, test: { arith: test } }, choices: {}, checks: [],
  cost: { forwardsRequested: 0, forwardsComputed: 0, scriptedRuns: 0, realRuns: 0, wallMs: 0 },
});

test("learned report: val-chosen policy and ablation, McNemar against full, the ablation and the peers on common items", () => {
  // Val: both thresholds keep full's 5/10; the cheaper (threshold .5, 1.5 forwards) is chosen for both variants.
  const L = (fam: Family, th: number, out: string, f: number) => cfg(`learned threshold=${th}${fam === "learned" ? "" : " policy=no-edit"}`, fam, { threshold: th }, out, f);
  const val = task("1111100000", [L("learned", 0.5, "1111100000", 1.5), L("learned", 0.9, "1111100000", 2), L("learned-no-edit", 0.5, "1111100000", 1.6), L("learned-no-edit", 0.9, "1111100000", 2.1)]);
  // Test: with EDIT 1111100000 (= full), without 1111000001: only with = item 4, only without = item 9 -> 1/1, p = 1.
  const test = task("1111100000", [L("learned", 0.5, "1111100000", 1.5), L("learned", 0.9, "1111100000", 2), L("learned-no-edit", 0.5, "1111000001", 1.6), L("learned-no-edit", 0.9, "1111100000", 2.1)]);
  // Peers run (12 test items, the first 10 in common): jot 2.5 forwards, outcomes 1110000000.. -> policy only on items 3, 4: 2/0, p = 0.5.
  const peers = summary(
    task("111110000000", [cfg("jot tauMax=10", "jot", { tauMax: 10 }, "111110000000", 2.5), cfg("commit oracle (greedy)", "commit-oracle", {}, "111110000000", 1.2)]),
    task("111110000000", [cfg("jot tauMax=10", "jot", { tauMax: 10 }, "111000000011", 2.5), cfg("commit oracle (greedy)", "commit-oracle", {}, "111110000000", 1.2)]),
  );
  const md = learnedMarkdown(summary(val, test), peers);
  assert.match(md, /\| with EDIT's features \| `learned threshold=0.5` \| 50.0 % .* \| 1.50 \| 1.25x \| yes \| 0\/0, p=1.000 \(10 items\) \|/);
  assert.match(md, /\| without \(ablation\) \| `learned threshold=0.5 policy=no-edit` \| 50.0 % .* \| 1.60 \| 1.33x \| yes \| 1\/1, p=1.000 \(10 items\) \|/);
  assert.match(md, /\| threshold 0.5 \| 50.0 % \/ 50.0 % \| 1.50 \/ 1.60 \| 1\/1, p=1.000 \(10 items\) \|/);
  assert.match(md, /\| jot \| `jot tauMax=10` \| 2.50 \| 41.7 % \| 1.50 \| yes \| 2\/0, p=0.500 \(10 items\) \|/);
});
