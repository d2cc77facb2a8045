/**
 * Prophet (Li, Zhou, Muhtar, Yin, Yan, Shen, Vosoughi, Liu 2025, "Diffusion Language Models Know the
 * Answer Before Decoding", arXiv:2508.19982, ICLR 2026), a stop rule ("early commit decoding"):
 *   g_{t,i} = L1_{t,i} - L2_{t,i}, the top-1 minus top-2 logit of position i (Eq 4);
 *   g_t = the mean of g_{t,i} over the answer region A;
 *   commit everything (argmax-fill every masked position) once g_t >= tau(p) (Eq 5), with the staged
 *   threshold tau(p) = tauHigh if p < 0.33, tauMid if 0.33 <= p < 0.67, tauLow otherwise, and the
 *   progress p = (T_max - t) / T_max of Alg. 1 (t counts down from T_max, so p = 0 at the first forward).
 * Defaults: the paper's (Sec. 5.1): tauHigh 7.5, tauMid 5.0, tauLow 2.5, transitions at 33 % and 67 %.
 * Our instantiation for the block sampler: T_max = the block's budget T_b (p = (step - 1) / T_b), A = the
 * block's masked positions (the paper's answer region is task-specific; a committed token has no
 * prediction left to measure), and the early commit fills the current block (polish 0), as SchED's stop.
 */
import type { RuleDefinition } from "./definition";
import { StopRuleParamError } from "./errors";
import { meanMaskedLogitMargin } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const PROPHET_PARAMS = {
  tauHigh: { type: "number", default: 7.5, min: 0, doc: "gap threshold while the progress p < pMid" },
  tauMid: { type: "number", default: 5, min: 0, doc: "gap threshold while pMid <= p < pLow" },
  tauLow: { type: "number", default: 2.5, min: 0, doc: "gap threshold once p >= pLow" },
  pMid: { type: "number", default: 0.33, min: 0, max: 1, doc: "progress at which tauMid takes over" },
  pLow: { type: "number", default: 0.67, min: 0, max: 1, doc: "progress at which tauLow takes over" },
} as const satisfies ParamSpecs;

/** tau(p) of Eq 5 (exported for tests). */
export function prophetThreshold(p: number, q: { tauHigh: number; tauMid: number; tauLow: number; pMid: number; pLow: number }): number {
  return p < q.pMid ? q.tauHigh : p < q.pLow ? q.tauMid : q.tauLow;
}

export class ProphetRule implements StopRule {
  readonly name = "prophet";
  readonly polishSteps = 0;
  private budget = 1;
  lastGap = NaN;
  lastThreshold = NaN;

  constructor(private readonly p: { tauHigh: number; tauMid: number; tauLow: number; pMid: number; pLow: number }) {}

  beginBlock(block: BlockInfo): void {
    this.budget = block.budget;
  }

  observe(view: StepView): StepDecision {
    this.lastGap = meanMaskedLogitMargin(view);
    this.lastThreshold = prophetThreshold((view.step - 1) / this.budget, this.p);
    return { stop: this.lastGap >= this.lastThreshold, sims: null, kl: null, counter: null, margin: this.lastGap };
  }

  blockThresholds(): null {
    return null;
  }
}

export const prophetRule: RuleDefinition = {
  name: "prophet",
  role: "stop",
  summary: "Prophet (2025): fill the block with its argmax once the masked tokens' mean top-2 logit gap >= 7.5 / 5 / 2.5 (by progress)",
  params: PROPHET_PARAMS,
  create(raw) {
    const p = parseParams("prophet", PROPHET_PARAMS, raw);
    if (p.pLow < p.pMid) throw new StopRuleParamError("prophet", "pLow", `a number >= pMid (${p.pMid})`, String(p.pLow));
    return new ProphetRule(p);
  },
};
