/**
 * Each masked block position's distribution at this forward and at the previous one, for the commit
 * rules that compare consecutive steps per token: KLASS's KL and LESS's top-K JS over the vocabulary,
 * token-wise EDIT's KL over the subspace (App. D, Eq 25) and edit-cos's over the probed modules. Two
 * buffers [block length, width] swapped after each forward, allocated once the width is known.
 */
import { softmaxRow } from "./logit-stats";
import type { StepView } from "./rule";
import { rowOffset } from "./rows";

export class StepDistributions {
  private start = 0;
  private len = 0;
  private width = 0;
  /** [len, width]: this forward's / the previous forward's distribution of each block offset. */
  cur = new Float64Array(0);
  prev = new Float64Array(0);
  private curHas = new Uint8Array(0);
  private prevHas = new Uint8Array(0);

  beginBlock(start: number, end: number): void {
    this.start = start;
    this.len = end - start;
    this.width = 0; // (re)allocated by the first beginStep, when the width is known
    this.curHas = new Uint8Array(this.len);
    this.prevHas = new Uint8Array(this.len);
  }

  beginStep(width: number): void {
    if (this.width !== width || this.cur.length !== this.len * width) {
      this.width = width;
      this.cur = new Float64Array(this.len * width);
      this.prev = new Float64Array(this.len * width);
    }
    this.curHas.fill(0);
  }

  /** Marks position `pos` as observed in this forward; returns its block offset o (row o of cur and prev). */
  slot(pos: number): number {
    const o = pos - this.start;
    this.curHas[o] = 1;
    return o;
  }

  /** slot() filled with the softmax of position `pos`'s logits row (width = the vocabulary). */
  recordSoftmax(view: StepView, pos: number): number {
    const o = this.slot(pos);
    softmaxRow(view.logits, rowOffset(view, pos, this.width), this.width, this.cur, o * this.width);
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
