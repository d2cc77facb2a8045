/**
 * The exact simulation of stop-step rules: on the micro bundle, every simulated configuration that
 * the driver re-runs through the engine gives the same output ids and forwards; the forward cache
 * keys on the ids at call time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadItems } from "../../research/src/bench/items";
import { summarizeRun } from "../../research/src/eval/analyze";
import { BatchingModel } from "../../research/src/eval/batching-model";
import { CachedModel } from "../../research/src/eval/cached-model";
import { runEval } from "../../research/src/eval/run";
import { stopChoiceJson } from "../../research/src/eval/report";
import { FakeModel } from "../engine/fakes";

const FIXTURES = join(__dirname, "..", "fixtures");
const micro = join(FIXTURES, "micro-bundle");

test("CachedModel: same ids -> one inner forward; the key is taken before the caller mutates ids", async () => {
  const inner = new FakeModel(4, () => new Map([[0, { token: 2, logit: 5 }]]));
  const m = new CachedModel(inner);
  const ids = new Int32Array([1, 3, 3]);
  const a = await m.forward(ids);
  ids[1] = 0; // the sampler commits after the forward
  const b = await m.forward(new Int32Array([1, 3, 3]));
  assert.equal(a, b);
  assert.equal(inner.calls, 1);
  await m.forward(ids);
  assert.equal(inner.calls, 2);
  assert.deepEqual([m.requested, m.computed], [3, 2]);
  m.clear();
  await m.forward(new Int32Array([1, 3, 3]));
  assert.equal(inner.calls, 3);
});

test("runEval on the micro bundle: simulated stop rules equal real engine runs", { skip: !existsSync(micro) && "no micro bundle" }, async () => {
  const items = loadItems(join(FIXTURES, "bench-items.jsonl"));
  const run = await runEval({
    bundleDir: micro,
    provider: "cpu",
    threads: 1,
    splits: [
      { name: "val", items },
      { name: "test", items },
    ],
    grid: { taus: [1, 0.1], deltas: [1e-6, 0.01, 0.05], omegas: [2, 4], releasedDeltas: [0.05], confidence: [0.9], jotTauMax: [30], fixedPolish: [0, 2] },
    checkItems: 3,
  });
  assert.ok(run.checks.length >= 5, `checked configurations: ${run.checks.map((c) => c.config).join(", ")}`);
  for (const c of run.checks) assert.equal(c.identical, c.compared, `${c.config}: ${c.mismatches.join("; ")}`);
  assert.ok(run.cost.forwardsComputed < run.cost.forwardsRequested, "the cache shares forwards between runs");
  const s = summarizeRun(run, 0.01, "val");
  for (const task of ["arith", "countdown"]) {
    const t = s.splits.test[task];
    assert.equal(t.items, 3);
    assert.equal(t.full.forwardsPerBlock, 16);
    assert.ok(t.oracle.forwardsPerBlock <= 16);
    assert.equal(t.oracle.accuracy, t.full.accuracy, "the oracle reproduces full's output");
    // fixed N stops every block at N: N forwards per generated block.
    assert.equal(t.configs.find((c) => c.id === "fixed n=5 p=0")!.forwardsPerBlock, 5);
    assert.equal(t.configs.find((c) => c.id === "fixed n=9 p=2")!.forwardsPerBlock, 11);
    const edit = t.configs.find((c) => c.id === "edit tau=1 delta=0.05 omega=4")!;
    assert.ok(edit.matched, "every early-stop rule has a matched fixed baseline");
    assert.ok(edit.atEarliestFraction !== null);
  }
  const choice = stopChoiceJson(s) as { tasks: Record<string, { stop: { rule: string } }> };
  assert.deepEqual(Object.keys(choice.tasks).sort(), ["arith", "countdown"]);
});

test("BatchingModel: concurrent forwards run as one left-padded batch, one ONNX call at a time", async () => {
  let active = 0;
  let maxActive = 0;
  const seen: number[][] = [];
  const inner = {
    provider: "fake",
    forward: async () => {
      throw new Error("unused");
    },
    forwardBatch: async (rows: Int32Array[]) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      seen.push(rows.map((r) => r.length));
      const seq = rows[0].length;
      // logits[b, p, 0] = the id at (b, p): lets the test see which rows came back where.
      const logits = new Float32Array(rows.length * seq);
      rows.forEach((r, b) => r.forEach((x, p) => (logits[b * seq + p] = x)));
      return { batch: rows.length, seq, vocab: 1, logits, activations: new Map([["m", { data: logits.slice(), dim: 1 }]]) };
    },
    dispose: async () => {},
  };
  const m = new BatchingModel(inner, 0);
  const a = m.forward(new Int32Array([5, 6, 7]));
  const b = m.forward(new Int32Array([8, 9]));
  const [ra, rb] = await Promise.all([a, b]);
  assert.deepEqual(Array.from(ra.logits), [5, 6, 7]);
  assert.deepEqual(Array.from(rb.logits), [8, 9], "the pad row is cut off");
  assert.deepEqual(Array.from(rb.activations.get("m")!.data), [8, 9]);
  assert.deepEqual(seen, [[3, 3]], "one call, rows padded to a common length");
  // A request made while a batch runs waits for it: never two calls at once.
  const c = m.forward(new Int32Array([1]));
  await new Promise((r) => setTimeout(r, 1));
  const d = m.forward(new Int32Array([2]));
  await Promise.all([c, d]);
  assert.equal(maxActive, 1);
});
