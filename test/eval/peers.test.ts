/** Issue 14's analysis (research/src/eval/peers.ts) on a hand-built 10-item summary; expected values by hand. */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConfigSummary, EvalSummary, TaskSummary } from "../../research/src/eval/analyze";
import type { Family } from "../../research/src/eval/configs";
import { peersMarkdown, taskPeers, withoutPart } from "../../research/src/eval/peers";
import { wilson } from "../../research/src/eval/stats";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

function cfg(id: string, family: Family, rule: string, params: Record<string, number>, outcomes: string, fpb: number): ConfigSummary {
  const correct = [...outcomes].filter((x) => x === "1").length;
  return {
    id, family, rule, params, polish: 0, items: outcomes.length, correct, accuracy: correct / outcomes.length,
    forwardsPerBlock: fpb, forwardsPerItem: 2 * fpb, stopFraction: 0, atEarliestFraction: null, spearman: null,
    spearmanBlocks: 0, matched: null, outcomes, sameAsFull: 0,
  };
}

function split(ebOutcomes: string): TaskSummary {
  const full = cfg("full", "full", "full", {}, "1111100000", 16);
  return {
    items: 10,
    full,
    oracle: cfg("oracle", "oracle", "oracle", {}, "1111100000", 6),
    configs: [
      cfg("jot tauMax=10", "jot", "jot", { tauMax: 10 }, "1111100000", 2.5),
      cfg("eb-sampler gamma=0.3", "eb-sampler", "eb-sampler", { gamma: 0.3 }, ebOutcomes, 3),
      cfg("stable-confident entropy=0.05", "stable-confident", "stable-confident", { entropy: 0.05 }, "1111100001", 10),
      cfg("edit+jot tauMax=10", "composed", "edit+jot", { tauMax: 10 }, "1111100000", 2),
      cfg("jot+edit-cos tauMax=10 cosDelta=0.001", "composed", "jot+edit-cos", { tauMax: 10, cosDelta: 0.001 }, "1111000000", 1.5),
      cfg("commit oracle (greedy)", "commit-oracle", "eval-commit-oracle", {}, "1111100000", 1.2),
    ],
    fronts: {},
    dt: [],
  };
}

function summary(): EvalSummary {
  return {
    bundle: "hand", provider: "cpu", generatedAt: "", budget: 16, numBlocks: 2, blockLength: 32, counts: [], releasedAvailable: false,
    tolerance: 0.05, splits: { val: { arith: split("1111100000") }, test: { arith: split("1110000000") } }, choices: {}, checks: [],
    cost: { forwardsRequested: 0, forwardsComputed: 0, scriptedRuns: 0, realRuns: 0, wallMs: 0 },
  };
}

test("wilson: 95 % score interval by hand", () => {
  // k = 5, n = 10: centre (5 + z^2/2) / (10 + z^2) = 0.5, half z sqrt(2.5 + z^2/4) / (10 + z^2) = 0.2634069
  const [lo, hi] = wilson(5, 10);
  close(lo, 0.23659308901147935);
  close(hi, 0.7634069109885206);
  close(wilson(0, 8)[1], 0.3244075683414076);
  assert.deepEqual(wilson(0, 0), [0, 1]);
});

test("withoutPart: the base configuration's id keeps only the remaining rules' params", () => {
  assert.equal(withoutPart("edit+jot", { tau: 0.03, deltaFirst: 1e-5, tauMax: 10 }, "edit"), "jot tauMax=10");
  assert.equal(withoutPart("jot+eb-sampler", { tauMax: 10, gamma: 0.3 }, "jot"), "eb-sampler gamma=0.3");
  assert.equal(withoutPart("jot", { tauMax: 10 }, "jot"), null);
});

test("taskPeers: val-chosen picks, holding on test, the composed target and the parts", () => {
  const tp = taskPeers(summary(), "arith")!;
  const pick = (f: Family) => tp.picks.find((p) => p.family === f)!;
  // composed: jot+edit-cos loses an item on val (0.4 < 0.5 - 0.05), so edit+jot (2.0 forwards) is chosen.
  assert.equal(tp.composed?.config, "edit+jot tauMax=10");
  // eb-sampler on test: 3/10 < 0.45 -> does not hold; vs full: 0 only-eb, 2 only-full, p = 2 * (1/2)^2 = 0.5
  assert.equal(pick("eb-sampler").holds, false);
  assert.deepEqual(pick("eb-sampler").vsFull, { onlyA: 0, onlyB: 2, p: 0.5 });
  assert.equal(pick("edit").config, null, "no edit configuration in the sweep");
  // vs composed (edit+jot, 1111100000 on test): eb-sampler only 0, composed only 2
  assert.deepEqual(pick("eb-sampler").vsComposed, { onlyA: 0, onlyB: 2, p: 0.5 });
  // vs peers that hold: jot (2.5) and stable-confident (10); both use more than 2.0 -> target met
  assert.deepEqual(tp.vsPeers.map((v) => [v.family, v.fewer]), [["jot", true], ["stable-confident", true]]);
  assert.equal(tp.target, true);
  assert.equal(tp.bestCommit, "jot tauMax=10");
  // parts: edit on top of jot (same outcomes), edit-cos on top of jot (loses item 5: 0 / 1, p = 1)
  assert.deepEqual(
    tp.parts.map((e) => [e.part, e.base, e.paired.onlyA, e.paired.onlyB, e.paired.p]),
    [["edit", "jot tauMax=10", 0, 0, 1], ["edit-cos", "jot tauMax=10", 0, 1, 1]],
  );
  assert.equal(tp.commitOracle?.forwardsPerBlock, 1.2);
  const md = peersMarkdown(summary()).join("\n");
  assert.match(md, /\*\*target met\*\*/);
  assert.match(md, /\| arith \| eb-sampler \| `eb-sampler gamma=0.3` \| 30.0 % \(10.8-60.3\) \| 3.00 \| 2.50x \| no \| 0\/2, p=0.500 \|/);
});
