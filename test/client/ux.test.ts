/**
 * The client's completion-UX helpers (issue 13): the task pick order, the start-failure limit, the
 * settings that keep their previous value when a new one is invalid, the status tooltip's provider
 * and last-completion lines. Expected values are written out by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { taskChoices } from "../../client/src/taskPick";
import { StartFailures } from "../../client/src/startFailures";
import { toDaemonSettings, unknownRules } from "../../client/src/settings";
import { completionLine, providerLine, statusView } from "../../client/src/statusText";

test("task pick: the last used task first, else the bundle default, then the rest in bundle order", () => {
  const tasks = ["countdown", "sudoku", "arith", "code"];
  assert.deepEqual(taskChoices(tasks, "arith", undefined).map((c) => c.task), ["arith", "countdown", "sudoku", "code"]);
  assert.deepEqual(taskChoices(tasks, "arith", "sudoku").map((c) => c.task), ["sudoku", "countdown", "arith", "code"]);
  assert.deepEqual(taskChoices(tasks, "arith", "sudoku")[0], { task: "sudoku", note: "last used" });
  assert.deepEqual(taskChoices(tasks, "arith", "sudoku")[2], { task: "arith", note: "bundle default" });
  // A remembered task the new bundle lacks is ignored.
  assert.deepEqual(taskChoices(tasks, "arith", "poetry").map((c) => c.task)[0], "arith");
  assert.deepEqual(taskChoices([], undefined, undefined), []);
});

test("start failures: five in a row give up; a daemon that ran past the grace time starts the count over", () => {
  const f = new StartFailures(5, 10_000);
  for (let i = 1; i <= 4; i++) assert.equal(f.record(0, `exit ${i}`), false);
  assert.equal(f.record(500, "exit 5"), true);
  assert.match(f.summary(), /failed at start 5 times in a row \(last: exit 5\)/);
  f.reset();
  assert.equal(f.failures, 0);
  for (let i = 0; i < 4; i++) f.record(0, "x");
  assert.equal(f.record(60_000, "crash after a minute"), false);
  assert.equal(f.failures, 1);
});

test("stop rules: unknown names are reported once the daemon's names are known, compositions of known names pass", () => {
  const known = ["full", "edit", "confidence"];
  assert.deepEqual(unknownRules("edit+confidence", known), []);
  assert.deepEqual(unknownRules("edit+nonsense", known), ["nonsense"]);
  const m = toDaemonSettings({ stopRule: "nonsense" }, {}, { knownRules: known });
  assert.equal(m.daemon.stopRule, undefined);
  assert.equal(m.errors.length, 1);
  assert.match(m.errors[0].message, /edit\.stopRule.*unknown: nonsense/);
  // Before the daemon answered, the name goes through (the daemon then refuses it with its own message).
  assert.equal(toDaemonSettings({ stopRule: "nonsense" }).daemon.stopRule, "nonsense");
});

test("an invalid value keeps the previous valid one", () => {
  const previous = { stopRule: "full", inlineMinConfidence: 0.5, bundlePath: "/b/one" };
  const m = toDaemonSettings({ stopRule: "nonsense", inlineMinConfidence: 7, bundlePath: "/missing" }, previous, {
    knownRules: ["full", "edit"],
    bundleProblem: (p) => (p === "/missing" ? "/missing does not exist" : null),
  });
  assert.deepEqual(m.daemon, previous);
  assert.deepEqual(m.errors.map((e) => e.setting).sort(), ["bundlePath", "inline.minConfidence", "stopRule"]);
  assert.match(m.errors.find((e) => e.setting === "bundlePath")!.message, /\/missing does not exist/);
});

test("inline gate settings map to the daemon's names", () => {
  const m = toDaemonSettings({ inlineMinConfidence: 0, inlineConfidenceStatistic: "min" });
  assert.deepEqual(m.daemon, { inlineMinConfidence: 0, inlineConfidenceStatistic: "min" });
  assert.equal(toDaemonSettings({ inlineMinConfidence: null }).errors.length, 0);
  assert.equal(toDaemonSettings({ inlineConfidenceStatistic: "median" }).errors.length, 1);
});

test("status tooltip: the provider that runs and why not a GPU, and why the last completion was not shown", () => {
  const base = { state: "ready" as const, bundle: "b", provider: "cpu", loadMs: 10, queueLength: 0 };
  assert.equal(providerLine({ ...base, requestedProvider: "cpu" }), "Execution provider: cpu");
  assert.match(providerLine({ ...base, requestedProvider: "auto" }) ?? "", /cpu \(setting "auto": no GPU provider could be started here; CUDA needs/);
  assert.match(providerLine(base) ?? "", /setting "auto"/);
  assert.equal(providerLine({ ...base, provider: "cuda", requestedProvider: "auto" }), 'Execution provider: cuda (setting "auto")');
  assert.equal(
    providerLine({ ...base, requestedProvider: "auto", providerNotes: ["cuda: libonnxruntime_providers_cuda.so not found", "webgpu: libvulkan.so.1 not found"] }),
    'Execution provider: cpu (setting "auto"; not cuda: libonnxruntime_providers_cuda.so not found; not webgpu: libvulkan.so.1 not found)',
  );
  assert.equal(completionLine({ shown: false, reason: "cancelled", ms: 3 }), "Last completion: not shown, cancelled");
  assert.equal(completionLine({ shown: true, source: "model", confidence: 0.934, ms: 41.6 }), "Last completion: shown (model, confidence 0.93, 42 ms)");
  const v = statusView({ kind: "daemon", status: { ...base, requestedProvider: "cpu", lastCompletion: { shown: false, reason: "model still loading", ms: 1 } } });
  assert.equal(v.tooltip, "Model: b on cpu, loaded in 10 ms\nExecution provider: cpu\nLast completion: not shown, model still loading");
});
