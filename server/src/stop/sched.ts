/**
 * SchED (Mohamed, Zhang, Vazirgiannis, Shang 2025, "Fast-Decoding Diffusion Language Models via
 * Progress-Aware Confidence Schedules", arXiv:2512.02892), a stop rule. At step t of T:
 *   g_{t,i} = L1_{t,i} - L2_{t,i}, the top-1 minus top-2 raw logit of position i;
 *   g_t = mean of g_{t,i} over the answer span (the paper's default aggregation is the mean);
 *   exit when g_t >= tau(p), p = t / T, with a smooth non-increasing threshold
 *     tau(p) = tauLow + (tauHigh - tauLow) * s(p),
 *     s = 1 - p (linear) | (1 + cos(pi p)) / 2 (cosine) | exp(-k p) (exp, not normalised to 0 at p = 1).
 * Our instantiation for the block sampler: T = the block's budget T_b, the span = the block's masked
 * positions (a committed token's row has no prediction left to measure; the paper's "full span" over a
 * single-block answer has none committed until the end), and the exit stops the block (polish 0 fills
 * the masked positions with x0, which is what SchED keeps at its exit).
 * What we could not find: the paper's default tauHigh / tauLow / k (logit margins depend on the model's
 * scale anyway). Our documented choice: cosine, tauHigh 10, tauLow 2, k 3; the val sweep picks others.
 */
import type { RuleDefinition } from "./definition";
import { StopRuleParamError } from "./errors";
import { meanMaskedLogitMargin } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const SCHED_SCHEDULES = ["linear", "cosine", "exp"] as const;
export type SchedSchedule = (typeof SCHED_SCHEDULES)[number];

export const SCHED_PARAMS = {
  schedule: { type: "string", default: "cosine", choices: SCHED_SCHEDULES, doc: "shape s(p) of the threshold: linear 1-p, cosine (1+cos(pi p))/2, exp exp(-k p)" },
  tauHigh: { type: "number", default: 10, min: 0, doc: "threshold on the mean top-2 logit margin at p = 0" },
  tauLow: { type: "number", default: 2, min: 0, doc: "threshold at p = 1 (linear, cosine); <= tauHigh" },
  k: { type: "number", default: 3, min: 0, minExclusive: true, doc: "decay rate of the exp schedule" },
} as const satisfies ParamSpecs;

/** tau(p) of the schedule (exported for tests). */
export function schedThreshold(schedule: SchedSchedule, p: number, tauHigh: number, tauLow: number, k: number): number {
  const s = schedule === "linear" ? 1 - p : schedule === "cosine" ? (1 + Math.cos(Math.PI * p)) / 2 : Math.exp(-k * p);
  return tauLow + (tauHigh - tauLow) * s;
}

export class SchedRule implements StopRule {
  readonly name = "sched";
  readonly polishSteps = 0;
  private budget = 1;
  /** Mean margin and threshold at the last observed step. */
  lastMargin = NaN;
  lastThreshold = NaN;

  constructor(private readonly p: { schedule: SchedSchedule; tauHigh: number; tauLow: number; k: number }) {}

  beginBlock(block: BlockInfo): void {
    this.budget = block.budget;
  }

  observe(view: StepView): StepDecision {
    this.lastMargin = meanMaskedLogitMargin(view);
    this.lastThreshold = schedThreshold(this.p.schedule, view.step / this.budget, this.p.tauHigh, this.p.tauLow, this.p.k);
    return { stop: this.lastMargin >= this.lastThreshold, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

export const schedRule: RuleDefinition = {
  name: "sched",
  role: "stop",
  summary: "SchED (2025): stop the block when the mean top-2 logit margin of its masked tokens >= tau(t/T_b), a smooth decreasing schedule",
  params: SCHED_PARAMS,
  create(raw) {
    const p = parseParams("sched", SCHED_PARAMS, raw);
    if (p.tauLow > p.tauHigh) throw new StopRuleParamError("sched", "tauLow", `a number <= tauHigh (${p.tauHigh})`, String(p.tauLow));
    return new SchedRule({ ...p, schedule: p.schedule as SchedSchedule });
  },
};
