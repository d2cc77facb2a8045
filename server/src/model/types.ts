/** The model seen by the sampler: one forward on token ids -> logits + probe activations. */

export interface Activation {
  /** Row-major [seq, dim] (batch 1) or [batch * seq, dim] (batched). */
  data: Float32Array;
  dim: number;
}

export interface ForwardResult {
  /** Row-major [seq, vocab]. */
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
  forward(ids: Int32Array): Promise<ForwardResult>;
  /** Equal-length rows (left-pad with the pad id beforehand); used by the bench. */
  forwardBatch?(rows: Int32Array[]): Promise<BatchForwardResult>;
  dispose(): Promise<void>;
}
