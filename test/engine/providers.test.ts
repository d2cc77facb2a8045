import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { providerCandidates } from "../../server/src/model/providers";
import { loadEngine } from "../../server/src/engine";
import { ModelError } from "../../server/src/errors";

test("auto tries the platform's accelerators the binding lists, then cpu", () => {
  assert.deepEqual(providerCandidates("auto", ["cpu", "webgpu", "cuda"], "linux", "x64"), ["cuda", "webgpu", "cpu"]);
  assert.deepEqual(providerCandidates("auto", ["cpu", "webgpu"], "linux", "x64"), ["webgpu", "cpu"]);
  assert.deepEqual(providerCandidates("auto", ["cpu", "dml", "webgpu"], "win32", "x64"), ["dml", "webgpu", "cpu"]);
  assert.deepEqual(providerCandidates("auto", ["cpu", "coreml", "webgpu"], "darwin", "arm64"), ["coreml", "webgpu", "cpu"]);
  assert.deepEqual(providerCandidates("dml", ["cpu"], "linux", "x64"), ["dml"]);
});

const MICRO = join(__dirname, "..", "fixtures", "micro-bundle");

test("auto falls back to a provider that runs and reports it; an unavailable explicit choice is a ModelError", async () => {
  const engine = await loadEngine({ bundleDir: MICRO, provider: "auto", threads: 1 });
  assert.ok(["cpu", "cuda", "webgpu", "dml", "coreml"].includes(engine.info.provider));
  await engine.dispose();
  // No platform's prebuilt binary ships CoreML and DirectML together, so one of them must fail.
  const other = process.platform === "darwin" ? "dml" : "coreml";
  await assert.rejects(loadEngine({ bundleDir: MICRO, provider: other }), ModelError);
});
