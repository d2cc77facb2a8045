/** Slicing and joining K/V spans (types.ts KvSpan: per layer [kvHeads, length, headDim], batch 1). */
import type { KvGeometry, KvSpan } from "./types";

/** Bytes a span holds (keys and values, float32). */
export function kvBytes(span: KvSpan): number {
  let n = 0;
  for (const l of span.layers) n += l.key.byteLength + l.value.byteLength;
  return n;
}

/** The rows [start, end) of each range, in order, copied out of `span` (row = position index within the span). */
export function sliceKv(span: KvSpan, g: KvGeometry, ranges: readonly (readonly [number, number])[]): KvSpan {
  const length = ranges.reduce((a, [s, e]) => a + (e - s), 0);
  const { kvHeads, headDim } = g;
  const copy = (src: Float32Array): Float32Array => {
    const dst = new Float32Array(kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) {
      let row = 0;
      for (const [s, e] of ranges) {
        const from = (h * span.length + s) * headDim;
        dst.set(src.subarray(from, from + (e - s) * headDim), (h * length + row) * headDim);
        row += e - s;
      }
    }
    return dst;
  };
  return { length, layers: span.layers.map((l) => ({ key: copy(l.key), value: copy(l.value) })) };
}

/** `a` then `b` along the position axis. */
export function concatKv(a: KvSpan, b: KvSpan, g: KvGeometry): KvSpan {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const length = a.length + b.length;
  const { kvHeads, headDim } = g;
  const join = (x: Float32Array, y: Float32Array): Float32Array => {
    const dst = new Float32Array(kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) {
      dst.set(x.subarray(h * a.length * headDim, (h + 1) * a.length * headDim), h * length * headDim);
      dst.set(y.subarray(h * b.length * headDim, (h + 1) * b.length * headDim), (h * length + a.length) * headDim);
    }
    return dst;
  };
  return { length, layers: a.layers.map((l, i) => ({ key: join(l.key, b.layers[i].key), value: join(l.value, b.layers[i].value) })) };
}
