import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSafetensors } from "../../server/src/bundle/safetensors";
import { BundleError } from "../../server/src/errors";
import { buildSafetensors } from "./bundle-builder";

const F = "meta.safetensors";

function rejectsWith(bytes: Uint8Array, field: RegExp | string) {
  assert.throws(
    () => parseSafetensors(bytes, F),
    (e: unknown) => e instanceof BundleError && e.file === F && (typeof field === "string" ? e.field === field : field.test(e.field)),
  );
}

test("parses float32 tensors and string metadata", () => {
  const buf = buildSafetensors(
    { a: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6.5] }, b: { shape: [1], data: [-0.25] } },
    { format: "x", n: "3" },
  );
  const st = parseSafetensors(buf, F);
  assert.deepEqual(st.metadata, { format: "x", n: "3" });
  assert.deepEqual(st.tensors.get("a")!.shape, [2, 3]);
  assert.deepEqual(Array.from(st.tensors.get("a")!.data), [1, 2, 3, 4, 5, 6.5]);
  assert.deepEqual(Array.from(st.tensors.get("b")!.data), [-0.25]);
});

test("reads tensors at unaligned data offsets (header length not a multiple of 4)", () => {
  const buf = buildSafetensors({ a: { shape: [2], data: [3, 4] } }, { pad: "x" });
  const shifted = Buffer.concat([Buffer.alloc(1), buf]).subarray(1);
  assert.deepEqual(Array.from(parseSafetensors(shifted, F).tensors.get("a")!.data), [3, 4]);
});

test("truncated file: shorter than the length prefix, or data cut off", () => {
  rejectsWith(new Uint8Array(5), "");
  const buf = buildSafetensors({ a: { shape: [4], data: [1, 2, 3, 4] } });
  rejectsWith(buf.subarray(0, buf.length - 3), "tensor a.data_offsets");
});

test("header length beyond the file", () => {
  const buf = Buffer.from(buildSafetensors({ a: { shape: [1], data: [1] } }));
  buf.writeBigUInt64LE(BigInt(buf.length));
  rejectsWith(buf, "header length");
});

test("offsets out of range or reversed", () => {
  const good = buildSafetensors({ a: { shape: [2], data: [1, 2] } });
  const withHeader = (h: object) => {
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, good.subarray(good.length - 8)]);
  };
  rejectsWith(withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 12] } }), "tensor a.data_offsets");
  rejectsWith(withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }), "tensor a.data_offsets");
  rejectsWith(withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0] } }), "tensor a.data_offsets");
  // dtype/shape mismatch: 2 floats need 8 bytes, the offsets span 4
  rejectsWith(withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }), "tensor a");
});

test("wrong dtype is rejected (float32 only)", () => {
  rejectsWith(buildSafetensors({ a: { dtype: "F16", shape: [2], data: [1] } }), "tensor a.dtype");
});

test("header that is not JSON", () => {
  const json = Buffer.from("{not json");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  rejectsWith(Buffer.concat([len, json]), "header");
});
