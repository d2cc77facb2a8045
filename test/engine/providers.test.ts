import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { AUTO_ORDER, autoAccelerators, providerCandidates, providerReport } from "../../server/src/model/providers";
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

test("auto's order per platform: DirectML on Windows, CoreML on macOS, CUDA on linux-x64, WebGPU where shipped, then cpu", () => {
  assert.deepEqual(autoAccelerators("win32", "x64"), ["dml", "webgpu"]);
  assert.deepEqual(autoAccelerators("win32", "arm64"), ["dml", "webgpu"]);
  assert.deepEqual(autoAccelerators("darwin", "arm64"), ["coreml", "webgpu"]);
  assert.deepEqual(autoAccelerators("linux", "x64"), ["cuda", "webgpu"]);
  assert.deepEqual(autoAccelerators("linux", "arm64"), []);
  // No macOS x64 binary in onnxruntime-node 1.30: no order, so no package either.
  assert.deepEqual(autoAccelerators("darwin", "x64"), []);
  assert.deepEqual(Object.keys(AUTO_ORDER).sort(), ["darwin-arm64", "linux-arm64", "linux-x64", "win32-arm64", "win32-x64"]);
  for (const [k, v] of Object.entries(AUTO_ORDER)) assert.ok(v.why.length > 20, `${k} says why`);
  const arm = providerReport({ platform: "linux", arch: "arm64", supported: ["cpu"], ortBinDir: null, hasLibrary: () => true });
  assert.match(arm.find((p) => p.provider === "webgpu")!.reason, /not in the prebuilt linux arm64 binary/);
  assert.deepEqual(providerCandidates("auto", ["cpu", "webgpu"], "linux", "arm64"), ["cpu"]);
});
