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
  /** Equal-length rows (left-pad with the pad id beforehand); used by the bench. */
  forwardBatch?(rows: Int32Array[]): Promise<BatchForwardResult>;
  dispose(): Promise<void>;
}
