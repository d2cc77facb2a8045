/**
 * fp16 K/V end to end (fp16 and int4 bundles: float16 past/present at the cache graph's boundary):
 * the model reports float16, the K/V it returns are 2 bytes per element and feed back as past; prefix
 * and dual refreshed every forward equal none token for token; the cross-request prompt cache holds
 * half the bytes of the fp32 bundle's for the same prompt (the same weights: tiny-llada).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadEngine } from "../../server/src/engine";
import type { Engine } from "../../server/src/engine-types";
import { loadBundle } from "../../server/src/bundle/load";
import { createOnnxModel } from "../../server/src/model/onnx-model";
import { isCacheGraphModel } from "../../server/src/model/types";
import { kvBytes, sliceKv } from "../../server/src/model/kv-span";

const FIXTURES = join(__dirname, "..", "fixtures");
const engines: Engine[] = [];
after(async () => {
  for (const e of engines) await e.dispose();
});

async function engine(name: string): Promise<Engine> {
  const e = await loadEngine({ bundleDir: join(FIXTURES, name), provider: "cpu", threads: 1 });
  engines.push(e);
  return e;
}

for (const dtype of ["fp16", "int4"] as const) {
  test(`${dtype} bundle: float16 K/V, 2 bytes per element, fed back as past`, async () => {
    const b = loadBundle(join(FIXTURES, `tiny-llada-${dtype}`));
    assert.equal(b.config.model.dtype, dtype);
    assert.equal(b.config.model.cache?.kv_dtype, "fp16");
    const m = await createOnnxModel(b.modelPath, { provider: "cpu", threads: 1, probes: b.config.probes, padId: b.config.ids.pad });
    assert.ok(isCacheGraphModel(m));
    assert.equal(m.kvDtype, "float16");
    const ids = new Int32Array([0, 40, 41, 42, 43, 44, 5, 5, 5, 5]);
    const full = await m.forwardCache({ ids, positions: Int32Array.from(ids, (_, i) => i), past: null, want: { start: 6, end: 10 } });
    const { layers, kvHeads, headDim } = m.kv;
    assert.ok(full.present.layers[0].key instanceof Uint16Array);
    assert.equal(kvBytes(full.present), 2 * layers * kvHeads * headDim * ids.length * 2);
    // The query [6, 10) against the K/V of [0, 6) taken from the full forward: the same logits.
    const past = sliceKv(full.present, m.kv, [[0, 6]]);
    const cached = await m.forwardCache({ ids: ids.slice(6), positions: Int32Array.from([6, 7, 8, 9]), past, want: { start: 0, end: 4 } });
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < full.logits.length; i++) {
      diff = Math.max(diff, Math.abs(full.logits[i] - cached.logits[i]));
      scale = Math.max(scale, Math.abs(full.logits[i]));
    }
    // fp16: rounding only; int4's MatMulNBits (accuracy level 4) quantises activations per call as well.
    assert.ok(diff <= (dtype === "fp16" ? 2e-3 : 5e-2) * scale, `cached vs full logits: ${diff} (scale ${scale})`);
    await m.dispose();
  });

  test(`${dtype} bundle: prefix and dual refreshed every forward equal none; the prompt cache holds half the fp32 bytes`, async () => {
    const e = await engine(`tiny-llada-${dtype}`);
    const e32 = await engine("tiny-llada");
    const req = { prompt: "def add(a, b):", task: "chat", stop: "full" } as const;
    const none = await e.generate({ ...req, cache: "none" });
    for (const mode of ["prefix", "dual"] as const) {
      const c = await e.generate({ ...req, cache: mode, cacheRefreshEvery: 1 });
      assert.deepEqual(c.trace.outputIds, none.trace.outputIds, `${mode} output ids`);
    }
    await e32.generate({ ...req, cache: "prefix" });
    const half = e.promptCacheStats?.();
    const full = e32.promptCacheStats?.();
    assert.ok(half && full && full.bytes > 0);
    assert.equal(half.bytes * 2, full.bytes);
  });
}
