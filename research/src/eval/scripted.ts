/**
 * A stop rule that follows a script: stop block b at a planned step with a planned polish (or never),
 * while recording, at every observed step, what EDIT needs offline: S_t, the paper rule's Sim_s
 * (an inner `edit` that never stops), the released rule's D_t (an inner `edit-released` that never
 * stops) and the block's argmax-fill output (what a polish-0 stop at that step would produce).
 */
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../../server/src/public";

export interface PlannedStop {
  step: number;
  polish: number;
}

export interface ObservedStep {
  visible: number[];
  sims: number[];
  releasedKl: number | null;
  /** The block's content if it were argmax-filled at this step (ids, block order). */
  prediction: number[];
}

export interface ObservedBlock {
  index: number;
  start: number;
  end: number;
  budget: number;
  /** The released rule's temperature input (masked fraction of the generation at block start). */
  maskedFraction: number;
  steps: ObservedStep[];
}

export class ScriptedRecorder implements StopRule {
  readonly name = "eval-scripted";
  readonly blocks: ObservedBlock[] = [];
  private current = -1;

  constructor(
    private readonly plan: readonly (PlannedStop | null)[],
    private readonly edit: StopRule,
    private readonly released: StopRule | null,
  ) {}

  /** Read by the sampler at each step and at the stop: the planned polish of the current block. */
  get polishSteps(): number {
    return this.plan[this.current]?.polish ?? 0;
  }

  beginBlock(block: BlockInfo): void {
    this.current = block.index;
    this.blocks.push({ ...block, steps: [] });
    this.edit.beginBlock(block);
    this.released?.beginBlock(block);
  }

  observe(view: StepView): StepDecision {
    const e = this.edit.observe(view);
    const r = this.released?.observe(view);
    const b = this.blocks[this.blocks.length - 1];
    const prediction = Array.from(view.ids.subarray(b.start, b.end));
    view.masked.forEach((p, i) => (prediction[p - b.start] = view.x0[i]));
    b.steps.push({ visible: [...view.visible], sims: e.sims ?? [], releasedKl: r?.kl ?? null, prediction });
    const planned = this.plan[this.current];
    const stop = planned != null && planned.step === view.step;
    return { stop, sims: e.sims ?? null, kl: e.kl ?? null, counter: null, margin: e.margin ?? null };
  }

  blockThresholds(): null {
    return null;
  }
}
