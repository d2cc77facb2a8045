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
import { estimateDtype, parseByteSize, withLayers } from "../../server/src/bundle/dtype-estimate";
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

test("doctor per dtype at 4k: weights + K/V + attention scores (hand-computed on tiny-llada), and --gpu-memory fits", async () => {
  // tiny-llada: vocab 384, d_model 32, 46,752 parameters, 2 layers, 4 KV heads of 8, 4 query heads, untied head.
  const r = await doctorReport({ bundleDir: join(__dirname, "..", "fixtures", "tiny-llada"), gpuMemoryBytes: 300 * 1024 ** 2 });
  const est = r.bundle!.estimates!;
  assert.equal(est.contextTokens, 4096);
  const by = new Map(est.dtypes.map((e) => [e.dtype, e]));
  // fp32: 46,752 x 4 B; K/V 2 x 2 layers x 4 x 8 x 4 B = 512 B/token.
  assert.equal(by.get("fp32")!.weightsBytes, 187_008);
  assert.equal(by.get("fp32")!.kvBytesPerToken, 512);
  assert.equal(by.get("fp32")!.kvBytes, 512 * 4096);
  assert.equal(by.get("fp32")!.scoresBytes, 4 * 4096 * 4096 * 4);
  // int4: embedding and head (12,288 each) fp32 + the layers' 22,176 weights x 20 / 32 B; fp16 K/V 256 B/token.
  assert.equal(by.get("int4")!.weightsBytes, 2 * 12_288 * 4 + 22_176 * 0.625);
  // int8: embedding fp32, head and layers 1.01 B.
  assert.equal(by.get("int8")!.weightsBytes, Math.round(12_288 * 4 + (12_288 + 22_176) * 1.01));
  assert.equal(by.get("int4")!.kvBytesPerToken, 256);
  assert.equal(by.get("fp16")!.kvBytesPerToken, 256);
  assert.equal(by.get("int8")!.kvBytesPerToken, 512);
  const fits = new Map(r.bundle!.gpu!.fits.map((f) => [f.dtype, f]));
  assert.equal(fits.get("fp32")!.fits, true); // 258.2 MiB <= 270 MiB usable
  assert.equal(fits.get("int8")!.fits, false);
  assert.match(fits.get("int8")!.reason, /CPU only/);
  const small = await doctorReport({ bundleDir: join(__dirname, "..", "fixtures", "tiny-llada"), gpuMemoryBytes: 256 * 1024 ** 2 });
  const f32 = small.bundle!.gpu!.fits.find((f) => f.dtype === "fp32")!;
  assert.equal(f32.fits, false);
  assert.match(f32.reason, /> 230\.4 MiB usable \(90 % of 256\.0 MiB\)/);
  assert.match(formatDoctor(small), /on a GPU with 256\.0 MiB:\n {4}fp32  does not fit: /);
});

test("8B shapes: a 2-layer LLaDA-8B-shaped model extrapolated to 32 layers, and Dream-7B's K/V per token (hand-computed)", () => {
  // LLaDA-8B per layer: q,k,v,o 4 x 4096^2 + SwiGLU 3 x 4096 x 12,288 + 2 norms = 218,112,000; embedding and head
  // 126,464 x 4096 each, final norm 4096.
  const perLayer = 4 * 4096 * 4096 + 3 * 4096 * 12288 + 2 * 4096;
  const outside = 2 * 126464 * 4096;
  const two = { params: 2 * perLayer + outside + 4096, vocab: 126464, dModel: 4096, layers: 2, kvHeads: 32, headDim: 128, heads: 32, tiedHead: false };
  const full = withLayers(two, 32);
  assert.equal(full.params, outside + (2 * perLayer + 4096) * 16); // the final norm is spread over the layers
  const fp16 = estimateDtype(full, "fp16", 4096);
  assert.equal(fp16.kvBytesPerToken, 2 * 32 * 32 * 128 * 2); // 512 KiB per token
  assert.equal(fp16.kvBytes, 2 * 1024 ** 3);
  assert.equal(fp16.weightsBytes, full.params * 2);
  assert.equal(fp16.scoresBytes, 32 * 4096 * 4096 * 4);
  // Dream-7B: 28 layers, 4 KV heads of 128 (GQA): 2 x 28 x 4 x 128 x 2 B = 57,344 B per token in fp16.
  const dream = estimateDtype({ params: 7_615_616_512, vocab: 152064, dModel: 3584, layers: 28, kvHeads: 4, headDim: 128, heads: 28, tiedHead: false }, "int4");
  assert.equal(dream.kvBytesPerToken, 57_344);
});

test("--gpu-memory sizes: 8G, 16GiB, 512M, 1.5g; anything else is refused with an example", () => {
  assert.equal(parseByteSize("8G"), 8 * 1024 ** 3);
  assert.equal(parseByteSize("16GiB"), 16 * 1024 ** 3);
  assert.equal(parseByteSize("512M"), 512 * 1024 ** 2);
  assert.equal(parseByteSize("1.5g"), 1.5 * 1024 ** 3);
  assert.throws(() => parseByteSize("8X"), /expected a size such as 8G/);
});
