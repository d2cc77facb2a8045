/** Slicing and joining K/V spans (types.ts KvSpan: per layer [kvHeads, length, headDim], batch 1). */
import type { KvArray, KvGeometry, KvSpan } from "./types";

/** A new array of the same element type as `like` (float32 or float16 bits). */
function alloc(like: KvArray, n: number): KvArray {
  return like instanceof Uint16Array ? new Uint16Array(n) : new Float32Array(n);
}

/** Bytes a span holds (keys and values, 4 B per element in float32, 2 B in float16). */
export function kvBytes(span: KvSpan): number {
  let n = 0;
  for (const l of span.layers) n += l.key.byteLength + l.value.byteLength;
  return n;
}

/** The rows [start, end) of each range, in order, copied out of `span` (row = position index within the span). */
export function sliceKv(span: KvSpan, g: KvGeometry, ranges: readonly (readonly [number, number])[]): KvSpan {
  const length = ranges.reduce((a, [s, e]) => a + (e - s), 0);
  const { kvHeads, headDim } = g;
  const copy = (src: KvArray): KvArray => {
    const dst = alloc(src, kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) {
      let row = 0;
      for (const [s, e] of ranges) {
        const from = (h * span.length + s) * headDim;
        copyInto(dst, src.subarray(from, from + (e - s) * headDim), (h * length + row) * headDim);
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
  const join = (x: KvArray, y: KvArray): KvArray => {
    if (x.constructor !== y.constructor) throw new TypeError("concatKv: float32 and float16 K/V cannot be joined");
    const dst = alloc(x, kvHeads * length * headDim);
    for (let h = 0; h < kvHeads; h++) {
      copyInto(dst, x.subarray(h * a.length * headDim, (h + 1) * a.length * headDim), h * length * headDim);
      copyInto(dst, y.subarray(h * b.length * headDim, (h + 1) * b.length * headDim), (h * length + a.length) * headDim);
    }
    return dst;
  };
  return { length, layers: a.layers.map((l, i) => ({ key: join(l.key, b.layers[i].key), value: join(l.value, b.layers[i].value) })) };
}

/** dst.set(src, at) for two arrays of one element type (TypeScript cannot narrow the union pairwise). */
function copyInto(dst: KvArray, src: KvArray, at: number): void {
  (dst as Float32Array).set(src as Float32Array, at);
}
