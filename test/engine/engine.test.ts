import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { effectiveParams, loadEngine } from "../../server/src/engine";
import { CancelledError, RequestError } from "../../server/src/errors";
import { writeTestBundle } from "./bundle-builder";
import { FakeModel, type Preference } from "./fakes";
import { assertValidTrace } from "./trace-schema";


// Test bundle ids: specials 0-3 (unk, eos, pad, mask), "0".."9" = 4..13, "+" 14, "-" 15, "=" 16, "#" 17.
// The fake model writes "#3" then eos at the first three generated positions, later positions prefer "0".
function answerModel(hook?: (call: number) => void) {
  return new FakeModel(
    22,
    (_call, ids) => {
      const prefs = new Map<number, Preference>();
      const start = ids.length - 8;
      [17, 7, 1].forEach((tok, i) => prefs.set(start + i, { token: tok, logit: 6 - i }));
      for (let p = start + 3; p < ids.length; p++) prefs.set(p, { token: 4, logit: 1 });
      return prefs;
    },
    hook,
  );
}

test("generate applies the task template, decodes up to eos, and fills the trace", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-engine-")));
  const model = answerModel();
  const engine = await loadEngine({ bundleDir: dir }, { model });
  assert.equal(engine.info.bundle, "test-bundle");
  assert.equal(engine.info.provider, "fake");
  assert.deepEqual(engine.info.tasks, ["arith"]);
  const { text, trace } = await engine.generate({ prompt: "1+2" });
  assert.equal(text, "#3");
  // "A:1+2=" then 8 masks.
  assert.deepEqual(trace.promptIds, [19, 21, 5, 14, 6, 16]);
  assert.deepEqual(Array.from(model.inputs[0].subarray(6)), new Array(8).fill(3));
  assert.deepEqual(trace.outputIds, [17, 7, 1, 4, 1, 1, 1, 1]);
  assert.equal(trace.rule, "full");
  assert.equal(trace.task, "arith");
  assert.equal(trace.blocks.length, 2);
  assert.equal(trace.blocks[1].endedBy, "eos-skip");
  assert.equal(trace.totals.forwards, 2);
  assert.equal(trace.totals.budget, 4);
  assert.equal(trace.totals.certifiedFraction, null);
  assertValidTrace(trace);
  await engine.dispose();
});

test("request overrides: raw prompt, lengths, unknown task", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-engine-")));
  const engine = await loadEngine({ bundleDir: dir }, { model: answerModel() });
  const { trace } = await engine.generate({ prompt: "7", raw: true, genLength: 4, blockLength: 4, steps: 2 });
  assert.deepEqual(trace.promptIds, [11]);
  assert.equal(trace.task, null);
  assert.equal(trace.blocks.length, 1);
  assert.equal(trace.totals.forwards, 2);
  assertValidTrace(trace);
  await assert.rejects(engine.generate({ prompt: "1", task: "sudoku" }), RequestError);
  await assert.rejects(engine.generate({ prompt: "1", steps: 3 }), RequestError);
});

test("the trace counts prompt characters the vocabulary lacks (they became unk id 0)", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-engine-")));
  const engine = await loadEngine({ bundleDir: dir }, { model: answerModel() });
  // "A:" + "1+é😀" + "=": é and the emoji are not in the test vocabulary (digits, + - = # only).
  const { trace } = await engine.generate({ prompt: "1+é😀" });
  assert.equal(trace.promptIds.filter((id) => id === 0).length, 2);
  assert.equal(trace.context?.unknownTokens, 2);
  const clean = await engine.generate({ prompt: "1+2" });
  assert.equal(clean.trace.context?.unknownTokens, 0);
  assertValidTrace(trace);
  await engine.dispose();
});

test("a cancelled generate rejects with CancelledError and the next generate works", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-engine-")));
  const ac = new AbortController();
  const engine = await loadEngine({ bundleDir: dir }, { model: answerModel((call) => call === 0 && ac.abort()) });
  const first = engine.generate({ prompt: "1+2", signal: ac.signal });
  const second = engine.generate({ prompt: "1+2" });
  await assert.rejects(first, CancelledError);
  assert.equal((await second).text, "#3");
});

test("stop rules come from the registry; a stop rule's certificate flags reach the trace", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-engine-")));
  const engine = await loadEngine({ bundleDir: dir }, { model: answerModel() });
  const steps: number[] = [];
  const { trace } = await engine.generate({ prompt: "1+2", stop: "full", onStep: (e) => steps.push(e.step.step) });
  assert.deepEqual(steps, [1, 2]);
  assertValidTrace(trace);
});

test("trace params: rule defaults, then the task's calibrated values the rule accepts, then the user's", async () => {
  const p = effectiveParams("edit+confidence", { tau: 2, deltaFirst: 0.3, unrelated: 1 }, { threshold: 0.5 });
  assert.equal(p.tau, 2);
  assert.equal(p.deltaFirst, 0.3);
  assert.equal(p.threshold, 0.5);
  assert.equal("unrelated" in p, false);
  assert.deepEqual(effectiveParams("full", { tau: 2 }, {}), {});
});
