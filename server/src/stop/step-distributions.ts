/**
 * Each masked block position's float64 softmax at this forward and at the previous one, for the
 * commit rules that compare consecutive steps per token (KLASS's KL, LESS's top-K JS): two buffers
 * per block offset, swapped after each forward, allocated once the vocabulary is known.
 */
import { softmaxRow } from "./logit-stats";
import type { StepView } from "./rule";
import { rowOffset } from "./rows";

export class StepDistributions {
  private start = 0;
  private len = 0;
  private vocab = 0;
  /** [len, vocab]: this forward's / the previous forward's distribution of each block offset. */
  cur = new Float64Array(0);
  prev = new Float64Array(0);
  private curHas = new Uint8Array(0);
  private prevHas = new Uint8Array(0);

  beginBlock(start: number, end: number): void {
    this.start = start;
    this.len = end - start;
    this.vocab = 0; // (re)allocated by the first beginStep, when the vocabulary is known
    this.curHas = new Uint8Array(this.len);
    this.prevHas = new Uint8Array(this.len);
  }

  beginStep(vocab: number): void {
    if (this.vocab !== vocab || this.cur.length !== this.len * vocab) {
      this.vocab = vocab;
      this.cur = new Float64Array(this.len * vocab);
      this.prev = new Float64Array(this.len * vocab);
    }
    this.curHas.fill(0);
  }

  /** Stores position `pos`'s softmax of this forward; returns its block offset (row o of cur and prev). */
  record(view: StepView, pos: number): number {
    const o = pos - this.start;
    softmaxRow(view.logits, rowOffset(view, pos, this.vocab), this.vocab, this.cur, o * this.vocab);
    this.curHas[o] = 1;
    return o;
  }

  /** Whether offset o was masked and observed in the previous forward of this block. */
  hadPrevious(o: number): boolean {
    return this.prevHas[o] === 1;
  }

  endStep(): void {
    [this.prev, this.cur] = [this.cur, this.prev];
    [this.prevHas, this.curHas] = [this.curHas, this.prevHas];
  }
}
