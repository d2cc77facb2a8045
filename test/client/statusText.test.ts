import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { statusView, stepsSaved } from "../../client/src/statusText";
import type { GenerationTrace } from "../../protocol/trace";

const trace = JSON.parse(readFileSync(join(__dirname, "../fixtures/traces/handmade-edit.json"), "utf8")) as GenerationTrace;
const status = { state: "ready" as const, bundle: "edit-tiny-char", provider: "cpu", loadMs: 412.4, queueLength: 0 };

test("idle, with the last generation's saved steps (fixture: 21 of 48 forwards run)", () => {
  assert.deepEqual(stepsSaved(trace), { saved: 27, budget: 48 });
  const v = statusView({ kind: "daemon", status }, trace);
  assert.equal(v.text, "$(check) EDIT: idle · saved 27/48 steps");
  // No requestedProvider in the status: the setting is "auto", which fell back to cpu here.
  assert.match(v.tooltip, /^Model: edit-tiny-char on cpu, loaded in 412 ms\nExecution provider: cpu \(setting "auto": no GPU provider/);
  assert.equal(v.severity, "normal");
});

test("loading, generating, failed, restarting", () => {
  assert.equal(statusView({ kind: "daemon", status: { ...status, state: "loading", loadMs: null } }).text, "$(sync~spin) EDIT: loading model");
  assert.equal(statusView({ kind: "generating", forwards: 5, budget: 32 }).text, "$(sync~spin) EDIT: generating 5/32");
  const failed = statusView({ kind: "daemon", status: { ...status, state: "failed", message: "bundle.json: missing field ids.mask" } });
  assert.equal(failed.severity, "error");
  assert.match(failed.tooltip, /missing field ids\.mask/);
  assert.match(failed.tooltip, /Click to restart the daemon/);
  // The worker gave up after loading (issue 22): the model is named, the cause and the way back shown.
  const gaveUp = statusView({ kind: "daemon", status: { ...status, state: "failed", message: "the inference worker crashed 4 times within a minute (last: exit code 70); restart the daemon" } });
  assert.equal(gaveUp.severity, "error");
  assert.match(gaveUp.text, /model failed/);
  assert.match(gaveUp.tooltip, /crashed 4 times[\s\S]*Click to restart/);
  const r = statusView({ kind: "restarting", attempt: 6, delayMs: 32_000, reason: "the daemon process exited" });
  assert.equal(r.text, "$(warning) EDIT: daemon restarting in 32s (attempt 6)");
  assert.equal(r.severity, "warning");
});

test("the tooltip explains the inline gate's silence: the embedded model cannot code", () => {
  const hidden = { shown: false, reason: "low confidence (mean top-1 probability 0.41 < 0.8)", confidence: 0.41, ms: 180 };
  const v = statusView({ kind: "daemon", status: { ...status, lastCompletion: hidden } });
  assert.match(v.tooltip, /\nLast completion: not shown, low confidence \(mean top-1 probability 0\.41 < 0\.8\)\n/);
  assert.match(v.tooltip, /embedded model solves the countdown, sudoku and arith puzzles .* cannot write code, so the confidence gate \(edit\.inline\.minConfidence; 0 shows every completion\) hides nearly every completion\. For a model that codes: convert one and set edit\.bundlePath \(EDIT: Get Started says how\)\.$/);
  // Another bundle: the gate is named only when it hid the last completion.
  const other = statusView({ kind: "daemon", status: { ...status, bundle: "diffucoder", lastCompletion: hidden } });
  assert.match(other.tooltip, /\nInline completions below the threshold are hidden by the confidence gate/);
  assert.doesNotMatch(statusView({ kind: "daemon", status: { ...status, bundle: "diffucoder" } }).tooltip, /Inline completions/);
});
