import { test } from "node:test";
import assert from "node:assert/strict";
import { toDaemonSettings, SettingsError } from "../../client/src/settings";

test("empty / default values map to an empty DaemonSettings (bundle defaults) and 150 ms debounce", () => {
  const m = toDaemonSettings({ bundlePath: "", executionProvider: undefined, stopRule: "", stopParams: {}, genLength: 0, blockLength: 0, steps: 0 });
  assert.deepEqual(m.daemon, {});
  assert.equal(m.debounceMs, 150);
  assert.deepEqual(m.errors, []);
});

test("valid values pass through, trimmed", () => {
  const m = toDaemonSettings({
    bundlePath: " /models/llada-8b ",
    executionProvider: "cuda",
    stopRule: "edit+confidence",
    stopParams: { deltaFirst: 0.05, omegaFirst: 6, polish: false },
    genLength: 128,
    blockLength: 32,
    steps: 64,
    debounceMs: 80,
  });
  assert.deepEqual(m.daemon, {
    bundlePath: "/models/llada-8b",
    executionProvider: "cuda",
    stopRule: "edit+confidence",
    stopParams: { deltaFirst: 0.05, omegaFirst: 6, polish: false },
    genLength: 128,
    blockLength: 32,
    steps: 64,
  });
  assert.equal(m.debounceMs, 80);
  assert.deepEqual(m.errors, []);
});

test("invalid values are left out and each names its setting and the expected value", () => {
  const m = toDaemonSettings({ executionProvider: "tpu", genLength: -3, steps: 2.5, stopParams: { x: [1] }, debounceMs: "fast" });
  assert.deepEqual(m.daemon, {});
  assert.equal(m.debounceMs, 150);
  assert.deepEqual(
    m.errors.map((e) => e.setting),
    ["executionProvider", "stopParams.x", "genLength", "steps", "debounceMs"],
  );
  assert.ok(m.errors.every((e) => e instanceof SettingsError));
  assert.match(m.errors[0].message, /edit\.executionProvider.*one of auto, cpu, cuda, dml, coreml, webgpu; got "tpu"/);
});

test("genLength must be a multiple of blockLength; steps a multiple of the block count", () => {
  const a = toDaemonSettings({ genLength: 100, blockLength: 32 });
  assert.deepEqual(a.daemon, {});
  assert.match(a.errors[0].message, /a multiple of edit\.blockLength \(32\)/);
  // 128/32 = 4 blocks; 30 forwards is not a multiple of 4.
  const b = toDaemonSettings({ genLength: 128, blockLength: 32, steps: 30 });
  assert.deepEqual(b.daemon, { genLength: 128, blockLength: 32 });
  assert.match(b.errors[0].message, /a multiple of the number of blocks \(4\)/);
});

test("edit.maxPromptChars maps through (0 = the daemon's default); a bad value is named", () => {
  assert.deepEqual(toDaemonSettings({ maxPromptChars: 5000 }).daemon, { maxPromptChars: 5000 });
  assert.deepEqual(toDaemonSettings({ maxPromptChars: 0 }).daemon, {});
  assert.deepEqual(toDaemonSettings({ maxPromptChars: -1 }).errors.map((e) => e.setting), ["maxPromptChars"]);
});

test("edit.threads and edit.cache map through; bad values are named", () => {
  const m = toDaemonSettings({ threads: 2, cache: "prefix" });
  assert.deepEqual(m.daemon, { threads: 2, cache: "prefix" });
  const bad = toDaemonSettings({ threads: 1.5, cache: "triple" });
  assert.deepEqual(bad.daemon, {});
  assert.deepEqual(bad.errors.map((e) => e.setting).sort(), ["cache", "threads"]);
});
