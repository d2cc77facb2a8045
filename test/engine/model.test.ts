import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../../server/src/bundle/load";
import { createOnnxModel } from "../../server/src/model/onnx-model";
import type { CacheGraphModel } from "../../server/src/model/types";

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

test("cache graph positions: eos (= pad) inside a sequence keeps its position; only a batched row's left padding is skipped", async () => {
  const b = loadBundle(join(__dirname, "..", "fixtures", "tiny-llada"));
  const model = await createOnnxModel(b.modelPath, { provider: "cpu", threads: 1, probes: b.config.probes, padId: b.config.ids.pad });
  const { mask, eos, pad } = b.config.ids;
  assert.equal(pad, eos, "converted bundles pad with eos");
  // eos first (a row whose real content starts with the pad id), eos in the middle, masks after.
  const seq = new Int32Array([eos, 40, 41, eos, 42, mask, mask, mask]);
  const single = await model.forward(seq);
  // Reference: the cache path with explicit plain positions 0..7 (what the official code and the PyTorch reference use).
  const plain = await (model as unknown as CacheGraphModel).forwardCache({
    ids: seq,
    positions: Int32Array.from(seq, (_, i) => i),
    past: null,
    want: { start: 0, end: seq.length },
  });
  const V = b.config.vocab_size;
  const maxDiff = (a: Float32Array, aOff: number, ref: Float32Array, n: number) => {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[aOff + i] - ref[i]));
    return m;
  };
  assert.ok(maxDiff(single.logits, 0, plain.logits, seq.length * V) < 1e-5, "single forward = plain positions");
  // A converted graph attends to pad keys (batch 1 carries none), so a padded row is compared with the same
  // padded ids at the positions it must get: 0 for the 3 pads, then 0..7 (the eos right after them included).
  const padded = new Int32Array(seq.length + 3).fill(pad);
  padded.set(seq, 3);
  const want = await (model as unknown as CacheGraphModel).forwardCache({
    ids: padded,
    positions: Int32Array.from(padded, (_, i) => Math.max(0, i - 3)),
    past: null,
    want: { start: 0, end: padded.length },
  });
  const other = new Int32Array(padded.length).fill(7);
  const batch = await model.forwardBatch!([other, padded], [0, 3]);
  assert.ok(maxDiff(batch.logits, padded.length * V, want.logits, padded.length * V) < 1e-5, "the caller's left-pad length decides the positions");
  // Without it the leading run of pad ids counts as padding (the eos after the 3 pads too): other positions.
  const inferred = await model.forwardBatch!([other, padded]);
  assert.ok(maxDiff(inferred.logits, padded.length * V, want.logits, padded.length * V) > 1e-3);
  await model.dispose();
});
