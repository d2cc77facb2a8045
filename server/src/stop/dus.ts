/**
 * DUS, the Dilated Unmasking Scheduler (Luxembourg, Permuter, Nachmani 2025, "Plan for Speed: Dilated
 * Scheduling for Masked Diffusion Language Models", arXiv:2506.19037), a commit rule that ignores the
 * model's confidence: a block of B positions is unmasked in R = ceil(log_a B) planned groups whose
 * members are far apart (so they are close to independent given the rest), one group per forward:
 *   s_t = max(1, floor(B / a^t)),  P_t = { k in 1..B not yet planned : (k - 1) mod s_t = 0 },
 * and a last group smaller than the one before is merged into it (the public scheduler
 * `DetailedUnmaskingScheduler._precompute_transfer_indices`, which cites the paper). With `threshold`
 * > 0 a planned token whose confidence is below it is skipped to the next group (its
 * `get_transfer_indices`). The sampler commits exactly the step's group (O(log B) forwards per block);
 * once the groups are spent, or when the whole group was committed already, the schedule's top-k_t.
 * Defaults: a = 2, threshold 0 (the scheduler's).
 */
import { commitDecision } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const DUS_PARAMS = {
  alpha: { type: "number", default: 2, min: 1, minExclusive: true, doc: "dilation base a: R = ceil(log_a B) groups per block" },
  threshold: { type: "number", default: 0, min: 0, max: 1, doc: "skip a planned token with confidence < threshold to the next group (0: never)" },
} as const satisfies ParamSpecs;

/** The planned groups of block offsets 0..B-1 (exported for tests). */
export function dilatedGroups(B: number, alpha: number): number[][] {
  const R = Math.max(1, Math.ceil(Math.log(B) / Math.log(alpha) - 1e-12));
  const planned = new Set<number>();
  const groups: number[][] = [];
  for (let t = 1; t <= R; t++) {
    const s = Math.max(1, Math.floor(B / alpha ** t));
    const group: number[] = [];
    for (let k = 0; k < B; k++) if (!planned.has(k) && k % s === 0) group.push(k);
    if (t === R && groups.length > 0 && group.length < groups[groups.length - 1].length) {
      groups[groups.length - 1].push(...group);
      continue;
    }
    groups.push(group);
    for (const k of group) planned.add(k);
  }
  return groups;
}

export class DusRule implements StopRule {
  readonly name = "dus";
  readonly polishSteps = 0;
  private start = 0;
  private groups: number[][] = [];

  constructor(private readonly p: { alpha: number; threshold: number }) {}

  beginBlock(block: BlockInfo): void {
    this.start = block.start;
    this.groups = dilatedGroups(block.end - block.start, this.p.alpha).map((g) => [...g]);
  }

  observe(view: StepView): StepDecision {
    const g = this.groups[view.step - 1] ?? [];
    const conf = new Map(view.masked.map((p, i) => [p, view.confidence[i]]));
    const set: number[] = [];
    const skipped: number[] = [];
    for (const o of g) {
      const pos = this.start + o;
      const c = conf.get(pos);
      if (c === undefined) continue; // committed already
      if (this.p.threshold > 0 && c < this.p.threshold) skipped.push(o);
      else set.push(pos);
    }
    if (skipped.length && view.step < this.groups.length) this.groups[view.step].push(...skipped);
    return commitDecision(set.sort((a, b) => a - b), false);
  }

  blockThresholds(): null {
    return null;
  }
}

export const dusRule: RuleDefinition = {
  name: "dus",
  role: "commit",
  summary: "DUS (2025): unmask each block in ceil(log_a B) planned dilated groups, one per forward (confidence only to skip)",
  params: DUS_PARAMS,
  create(raw) {
    return new DusRule(parseParams("dus", DUS_PARAMS, raw));
  },
};
