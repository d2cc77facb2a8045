/**
 * Memory per dtype for a bundle's model at a context length (doctor; docs/bring-your-own-dllm.md):
 * weights + the K/V cache of the whole context + the attention scores of one full forward (the graph's
 * attention is unfused: one float32 [heads, ctx, ctx] tensor per layer, one layer at a time).
 *
 * Bytes per weight are those of the converter's output (training/edit_dllm/convert.py), checked against
 * the SmolLM2 and 8B-shaped 2-layer bundles (docs/bench.md): fp32 4, fp16 2; int8 (dynamic quantisation)
 * 1 per MatMul weight (head included) + scales, the embedding Gather stays fp32; int4 (MatMulNBits, block
 * 32, symmetric: 16 B of nibbles + a 4 B scale per 32 weights = 0.625 B) on the layers' projections, the
 * embedding and the head fp32 (convert.py INT4: the head quantised cost the most top-1 agreement).
 * K/V: fp32 and int8 graphs take float32 K/V, fp16 and int4 graphs float16.
 */
import type { BundleConfig, ModelDtype } from "./bundle-json";

export const ESTIMATE_DTYPES: readonly ModelDtype[] = ["fp32", "fp16", "int8", "int4"];
export const DEFAULT_ESTIMATE_CONTEXT = 4096;
/** What a GPU leaves to the model: the CUDA context, cuDNN workspaces and ORT's arena rounding take the rest. */
export const GPU_USABLE_FRACTION = 0.9;

const WEIGHT_BYTES: Record<ModelDtype, { layers: number; head: number; embedding: number }> = {
  fp32: { layers: 4, head: 4, embedding: 4 },
  fp16: { layers: 2, head: 2, embedding: 2 },
  int8: { layers: 1.01, head: 1.01, embedding: 4 },
  int4: { layers: (16 + 4) / 32, head: 4, embedding: 4 },
};
const KV_ELEMENT_BYTES: Record<ModelDtype, number> = { fp32: 4, fp16: 2, int8: 4, int4: 2 };

export interface ModelShape {
  params: number;
  vocab: number;
  dModel: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Query heads (d_model / head_dim: every converted family has q_dim = d_model). */
  heads: number;
  /** The head reuses the embedding (counted once in params, but stored twice in model.onnx: Gather + MatMul). */
  tiedHead: boolean;
}

export interface DtypeEstimate {
  dtype: ModelDtype;
  weightsBytes: number;
  kvBytesPerToken: number;
  kvBytes: number;
  scoresBytes: number;
  totalBytes: number;
}

/** The shape doctor needs, from bundle.json (null without a cache graph or a parameter count). */
export function modelShape(c: BundleConfig): ModelShape | null {
  const m = c.model;
  if (!m.cache || !m.params) return null;
  return {
    params: m.params,
    vocab: c.vocab_size,
    dModel: m.d_model,
    layers: m.cache.layers,
    kvHeads: m.cache.kv_heads,
    headDim: m.cache.head_dim,
    heads: Math.max(1, Math.round(m.d_model / m.cache.head_dim)),
    tiedHead: m.tied_head === true,
  };
}

/** The same per-layer geometry with `layers` layers (the 2-layer 8B-shaped bundles -> 32 / 28 layers). */
export function withLayers(s: ModelShape, layers: number): ModelShape {
  const outside = s.vocab * s.dModel * (s.tiedHead ? 1 : 2); // the embedding and an untied head
  const perLayer = Math.max(0, s.params - outside) / s.layers;
  return { ...s, layers, params: Math.round(outside + perLayer * layers) };
}

export function estimateDtype(s: ModelShape, dtype: ModelDtype, contextTokens = DEFAULT_ESTIMATE_CONTEXT): DtypeEstimate {
  const embedding = s.vocab * s.dModel;
  const w = WEIGHT_BYTES[dtype];
  // The head is a MatMul of vocab x d_model either way (a tied head is a second, transposed copy in the graph).
  const layers = s.params - embedding * (s.tiedHead ? 1 : 2);
  const weightsBytes = Math.round(embedding * (w.embedding + w.head) + layers * w.layers);
  const kvBytesPerToken = 2 * s.layers * s.kvHeads * s.headDim * KV_ELEMENT_BYTES[dtype];
  const kvBytes = kvBytesPerToken * contextTokens;
  const scoresBytes = s.heads * contextTokens * contextTokens * 4;
  return { dtype, weightsBytes, kvBytesPerToken, kvBytes, scoresBytes, totalBytes: weightsBytes + kvBytes + scoresBytes };
}

export interface GpuFit {
  dtype: ModelDtype;
  fits: boolean;
  /** Why it fits or not, in numbers. */
  reason: string;
}

/** Which dtypes fit a GPU of `gpuBytes` at the context, and why not. int8 is a CPU format. */
export function gpuFit(e: DtypeEstimate, gpuBytes: number, fmt: (n: number) => string): GpuFit {
  const usable = gpuBytes * GPU_USABLE_FRACTION;
  const parts = `${fmt(e.weightsBytes)} weights + ${fmt(e.kvBytes)} K/V + ${fmt(e.scoresBytes)} attention scores = ${fmt(e.totalBytes)}`;
  if (e.dtype === "int8") {
    return { dtype: e.dtype, fits: false, reason: `CPU only (dynamic int8 quantisation has no GPU kernels in ONNX Runtime's CUDA provider); ${parts}` };
  }
  if (e.totalBytes <= usable) return { dtype: e.dtype, fits: true, reason: `${parts} <= ${fmt(usable)} usable (${GPU_USABLE_FRACTION * 100} %)` };
  return { dtype: e.dtype, fits: false, reason: `${parts} > ${fmt(usable)} usable (${GPU_USABLE_FRACTION * 100} % of ${fmt(gpuBytes)})` };
}

/** "8G", "8GB", "8GiB", "512M", "24g" or a byte count -> bytes (binary units). */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`expected a size such as 8G, 16GiB or 512M, found "${text}"`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Math.round(Number(m[1]) * unit);
}
