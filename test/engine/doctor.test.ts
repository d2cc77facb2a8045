/**
 * Provider report (why `auto` runs or skips each provider) on fake platforms, and `edit-dllm doctor`
 * on the converted tiny LLaDA-layout fixture.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { doctorReport, formatDoctor } from "../../server/src/cli/doctor";
import { loadEngine } from "../../server/src/engine";
import { autoAccelerators, CUDA_SETUP_COMMAND, providerReport, type ProviderEnv } from "../../server/src/model/providers";

const bin = mkdtempSync(join(tmpdir(), "edit-doctor-"));
after(() => rmSync(bin, { recursive: true, force: true }));

function env(over: Partial<ProviderEnv>): ProviderEnv {
  return { platform: "linux", arch: "x64", supported: ["cpu", "webgpu", "cuda"], ortBinDir: bin, hasLibrary: () => true, ...over };
}
const byName = (env: ProviderEnv) => new Map(providerReport(env).map((p) => [p.provider, p]));

test("linux: cuda without ORT's provider library names the one set-up command", () => {
  const r = byName(env({}));
  assert.equal(r.get("cuda")!.usable, false);
  assert.ok(r.get("cuda")!.reason.includes(CUDA_SETUP_COMMAND));
  assert.equal(r.get("dml")!.reason, "not on this platform (linux x64)");
  assert.equal(r.get("coreml")!.usable, false);
  assert.equal(r.get("webgpu")!.usable, true);
  assert.equal(r.get("cpu")!.usable, true);
  assert.deepEqual(providerReport(env({})).map((p) => p.provider), ["cuda", "dml", "coreml", "webgpu", "cpu"]);
});

test("linux: with the provider library, each missing CUDA system library is named", () => {
  writeFileSync(join(bin, "libonnxruntime_providers_cuda.so"), "");
  const missing = new Set(["libcudnn.so.9", "libvulkan.so.1"]);
  const r = byName(env({ hasLibrary: (n) => !missing.has(n) }));
  assert.equal(r.get("cuda")!.usable, false);
  assert.match(r.get("cuda")!.reason, /^libcudnn\.so\.9 not found \(cuDNN 9/);
  assert.match(r.get("webgpu")!.reason, /libvulkan\.so\.1 not found/);
  assert.equal(byName(env({})).get("cuda")!.usable, true);
  rmSync(join(bin, "libonnxruntime_providers_cuda.so"));
});

test("windows and macOS: their accelerators are left to session creation; the others are not on the platform", () => {
  const win = byName(env({ platform: "win32", supported: ["cpu", "dml", "webgpu"] }));
  assert.equal(win.get("dml")!.usable, null);
  assert.equal(win.get("coreml")!.reason, "not on this platform (win32 x64)");
  const mac = byName(env({ platform: "darwin", arch: "arm64", supported: ["cpu", "coreml"] }));
  assert.equal(mac.get("coreml")!.usable, null);
  assert.match(mac.get("webgpu")!.reason, /not in this onnxruntime-node build/);
});

test("doctor: the converted bundle's family, dtype, files and memory fit", async () => {
  const r = await doctorReport({ bundleDir: join(__dirname, "..", "fixtures", "tiny-llada") });
  const b = r.bundle!;
  assert.equal(b.error, undefined);
  assert.equal(b.architecture, "llada");
  assert.equal(b.dtype, "fp32");
  assert.equal(b.cacheGraph, true);
  assert.equal(b.fits, true);
  assert.equal(b.files!.length, 1);
  const text = formatDoctor(r);
  assert.match(text, /tiny-llada: edit-bundle\/2, llada/);
  assert.match(text, /cpu +ok/);
  const bad = await doctorReport({ bundleDir: join(bin, "missing") });
  assert.match(bad.bundle!.error!, /no such directory/);
});

test("engine with auto: each skipped accelerator of this platform comes with its reason; an explicit choice has none", async () => {
  const dir = join(__dirname, "..", "fixtures", "tiny-llada");
  const auto = await loadEngine({ bundleDir: dir, provider: "auto", threads: 1 });
  try {
    for (const note of auto.info.providerNotes ?? []) {
      const [name] = note.split(":");
      assert.ok(autoAccelerators(process.platform, process.arch).includes(name), note);
      assert.notEqual(name, auto.info.provider);
    }
  } finally {
    await auto.dispose();
  }
  const cpu = await loadEngine({ bundleDir: dir, provider: "cpu", threads: 1 });
  assert.equal(cpu.info.providerNotes, undefined);
  await cpu.dispose();
});
