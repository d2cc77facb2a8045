/**
 * Wraps a stop rule to record, at every observed step, the block the sampler would output if it
 * stopped there with an argmax fill (visible tokens + x0 on masked positions). The bench uses this
 * on the `full` run to find the oracle minimum forwards per block.
 */
import type { CertificateFlags } from "../../../protocol/trace";
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../../server/src/public";

export interface BlockPredictions {
  start: number;
  end: number;
  /** predictions[t-1] = the block's argmax-fill output at step t. */
  predictions: number[][];
}

export class PredictionRecorder implements StopRule {
  readonly blocks: BlockPredictions[] = [];
  constructor(private readonly inner: StopRule) {}
  get name(): string {
    return this.inner.name;
  }
  get polishSteps(): number {
    return this.inner.polishSteps;
  }
  beginBlock(block: BlockInfo): void {
    this.blocks.push({ start: block.start, end: block.end, predictions: [] });
    this.inner.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const b = this.blocks[this.blocks.length - 1];
    const pred = Array.from(view.ids.subarray(b.start, b.end));
    view.masked.forEach((p, i) => (pred[p - b.start] = view.x0[i]));
    b.predictions.push(pred);
    return this.inner.observe(view);
  }
  blockThresholds(): { delta: number; omega: number } | null {
    return this.inner.blockThresholds();
  }
  certificate(): CertificateFlags | null {
    return this.inner.certificate?.() ?? null;
  }
}

/**
 * Oracle minimum forwards of one block: the earliest step s whose argmax-fill output equals the
 * block's final output and stays equal at every later step (stopping at s with polish 0 would change
 * nothing). The full budget when only the last step matches.
 */
export function oracleStopStep(predictions: readonly number[][], final: readonly number[]): number {
  let s = predictions.length;
  for (let t = predictions.length - 1; t >= 0; t--) {
    if (predictions[t].length !== final.length || predictions[t].some((x, i) => x !== final[i])) break;
    s = t + 1;
  }
  return s;
}
