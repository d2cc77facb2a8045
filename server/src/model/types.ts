/** The model seen by the sampler: one forward on token ids -> logits + probe activations. */

export interface Activation {
  /** Row-major [rows, dim] (batch 1; see ForwardResult.rowStart) or [batch * seq, dim] (batched). */
  data: Float32Array;
  dim: number;
}

/**
 * What the caller needs from one forward (DESIGN "Next scale"): outputs only for the positions being
 * denoised. Full-sequence logits do not scale (a 126k vocabulary makes them gigabytes per forward).
 */
export interface ForwardRequest {
  /** Absolute positions [start, end) whose logits and probe activations are wanted (default: all). */
  want?: { start: number; end: number };
}

export interface ForwardResult {
  /**
   * Absolute position of row 0 of `logits` and of every activation: position p is row p - rowStart.
   * The rows cover at least the requested `want` range (a model may return more, e.g. 0 = all rows).
   */
  rowStart: number;
  /** Row-major [rows, vocab]. */
  logits: Float32Array;
  vocab: number;
  /** Probe activations keyed by module name (bundle.json probes' values). */
  activations: Map<string, Activation>;
  /** What a cache-aware model did for this forward (kv-cache-model.ts); absent for plain models. */
  cache?: ForwardCacheNote;
}

/** Per-forward cache bookkeeping, copied into the trace's step (protocol/trace.ts). */
export interface ForwardCacheNote {
  /** Tokens computed in this forward (the query length): the whole sequence without a cache. */
  tokens: number;
  /** True when this forward recomputed the cached K/V (a refresh), false when it read them. */
  refreshed: boolean;
}

/** K/V geometry of a cache graph (bundle.json model.cache). */
export interface KvGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
}

/**
 * K/V element type at the graph boundary (past_key.0's ONNX type): fp16 and int4 bundles take and return
 * float16 K/V, held as their raw IEEE half bits in a Uint16Array (onnxruntime-node's float16 tensor data;
 * Node 20 has no Float16Array). Nothing in the engine reads K/V values, it only slices and joins them.
 */
export type KvDtype = "float32" | "float16";
export type KvArray = Float32Array | Uint16Array;

/**
 * K/V of `length` positions for batch 1: per layer, key and value row-major [kvHeads, length, headDim],
 * rotary already applied to K (docs/kv-cache.md). Position order is free (attention has no mask).
 */
export interface KvSpan {
  length: number;
  layers: { key: KvArray; value: KvArray }[];
}

/** One forward of the cache graph: the query tokens attend to `past` and to themselves. */
export interface CacheForwardRequest {
  /** Query token ids (batch 1). */
  ids: Int32Array;
  /** Absolute position of each query token. */
  positions: Int32Array;
  /** Cached K/V (null = none). */
  past: KvSpan | null;
  /** Query rows [start, end) (0-based within the query) whose logits and activations come back. */
  want: { start: number; end: number };
}

export interface CacheForwardResult {
  /** Row-major [want rows, vocab]. */
  logits: Float32Array;
  vocab: number;
  activations: Map<string, Activation>;
  /** K/V of every query position, in query order. */
  present: KvSpan;
}

/** A model whose graph takes past K/V (bundle.json model.cache != null). */
export interface CacheGraphModel extends DllmModel {
  readonly kv: KvGeometry;
  readonly kvDtype: KvDtype;
  /** Dream family: row j's logits come from hidden j - 1, so a query must start before the first wanted row. */
  readonly shift: boolean;
  forwardCache(req: CacheForwardRequest): Promise<CacheForwardResult>;
}

export function isCacheGraphModel(m: DllmModel): m is CacheGraphModel {
  return typeof (m as Partial<CacheGraphModel>).forwardCache === "function" && (m as Partial<CacheGraphModel>).kv !== undefined;
}

export interface BatchForwardResult {
  batch: number;
  seq: number;
  vocab: number;
  /** Row-major [batch, seq, vocab]. */
  logits: Float32Array;
  activations: Map<string, Activation>;
}

export interface DllmModel {
  /** Execution provider the session actually runs on. */
  readonly provider: string;
  forward(ids: Int32Array, request?: ForwardRequest): Promise<ForwardResult>;
  /**
   * Equal-length rows (left-pad with the pad id beforehand); used by the bench and the batched eval.
   * `leftPad[r]`: row r's padding length (positions restart after it); default: the row's leading run of pad ids.
   */
  forwardBatch?(rows: Int32Array[], leftPad?: readonly number[]): Promise<BatchForwardResult>;
  dispose(): Promise<void>;
}
