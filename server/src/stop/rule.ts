/**
 * The one interface every stop / commit rule implements (one rule per file in this folder).
 * The sampler calls `beginBlock` once per block and `observe` once per forward, before that step's
 * scheduled commit; the rule answers continue / stop the block / commit these positions early.
 * Rules never touch ONNX Runtime or the tokenizer; they see plain arrays.
 */
import type { CertificateFlags } from "../../../protocol/trace";

export interface BlockInfo {
  /** 0-based block index. */
  index: number;
  /** Absolute positions [start, end) of the block in the sequence. */
  start: number;
  end: number;
  /** Forward budget T_b of this block. */
  budget: number;
  /** Masked fraction of the whole generation region at block start (edit-released's temperature). */
  maskedFraction: number;
}

export interface StepView {
  /** 1-based step within the block. */
  step: number;
  /** Token ids that were the forward's input (length = seq). */
  ids: Int32Array;
  maskId: number;
  seqLen: number;
  vocab: number;
  /**
   * Absolute position of row 0 of `logits` and `activations`: position p is row (p - rowStart). The rows
   * cover at least the current block (a cached forward returns only the block's rows).
   */
  rowStart: number;
  /** Logits of this forward, row-major [rows, vocab] (batch 1). */
  logits: Float32Array;
  /** Probe activations of this forward by module name, each row-major [rows, d_out]. */
  activations: ReadonlyMap<string, { data: Float32Array; dim: number }>;
  /** Current block positions visible (not masked) in the input: S_t, ascending. */
  visible: number[];
  /** Current block positions still masked in the input, ascending. */
  masked: number[];
  /** argmax id (x0) and its softmax probability (float64) per masked position, aligned with `masked`. */
  x0: Int32Array;
  confidence: Float64Array;
}

export interface StepDecision {
  /** Stop the block now (early termination); the sampler polishes per the rule's polishSteps. */
  stop: boolean;
  /** Masked positions to commit now (with their x0) beyond the schedule's k (the "union" commit variant). */
  commitEarly?: number[];
  /**
   * The set the rule would commit now (masked positions, with their x0), as the peers' authors commit it:
   * the sampler commits exactly this set; when it is empty (or no rule gives one) the schedule's top-k_t
   * by confidence, at least one token (KLASS llada_klass.py L155-182, LESS llada_less.py "Fallback").
   */
  commitOnly?: number[];
  /**
   * Visible positions of the current block that the sampler committed earlier in this block and must
   * mask again now (WINO's "narrow-out" verification); ignored on the block's last step.
   */
  remask?: number[];
  /** Trace fields computed by the rule (null when it computes none). */
  sims?: number[] | null;
  kl?: number | null;
  counter?: number | null;
  margin?: number | null;
}

export interface StopRule {
  readonly name: string;
  /** Forwards the sampler spends after a stop to commit what is still masked (0 = argmax fill). */
  readonly polishSteps: number;
  beginBlock(block: BlockInfo): void;
  observe(view: StepView): StepDecision;
  /** Delta/Omega in force for the current block (drawn by the webview); null for non-EDIT rules. */
  blockThresholds(): { delta: number; omega: number } | null;
  /** Certificate flags at the stop of the current block (EDIT rules only). */
  certificate?(): CertificateFlags | null;
  /**
   * The rule needs the logits of every generation position from the current block to the end of the
   * generation, not only the block's rows (KLASS keeps each position's previous distribution across blocks).
   */
  readonly wantsRowsToEnd?: boolean;
}
