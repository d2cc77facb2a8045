import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../../server/src/bundle/load";
import { createOnnxModel } from "../../server/src/model/onnx-model";

const MICRO = join(__dirname, "..", "fixtures", "micro-bundle");

test("ONNX forward: logits [seq, vocab] and probe activations by module; left-padded batch rows equal single forwards", async () => {
  const b = loadBundle(MICRO);
  const model = await createOnnxModel(b.modelPath, { provider: "cpu", threads: 1, probes: b.config.probes });
  const { mask, pad } = b.config.ids;
  const long = new Int32Array([38, 31, 22, 23, 16, 24, 34, mask, mask, mask]);
  const short = new Int32Array([38, 31, 22, 34, mask, mask]);
  const one = await model.forward(long);
  assert.equal(one.vocab, b.config.vocab_size);
  assert.equal(one.logits.length, long.length * b.config.vocab_size);
  assert.deepEqual([...one.activations.keys()].sort(), Object.values(b.config.probes).sort());
  for (const a of one.activations.values()) assert.equal(a.data.length, long.length * a.dim);
  const single = await model.forward(short);
  const padded = new Int32Array(long.length).fill(pad);
  padded.set(short, long.length - short.length);
  const batch = await model.forwardBatch([long, padded]);
  assert.equal(batch.batch, 2);
  const V = batch.vocab;
  const maxDiff = (a: Float32Array, aOff: number, bArr: Float32Array, n: number) => {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[aOff + i] - bArr[i]));
    return m;
  };
  assert.ok(maxDiff(batch.logits, 0, one.logits, long.length * V) < 1e-4, "row 0 equals the single forward");
  const off = (long.length + long.length - short.length) * V;
  assert.ok(maxDiff(batch.logits, off, single.logits, short.length * V) < 1e-4, "left-padded row equals the unpadded sequence");
  await model.dispose();
});
