/**
 * Confidence-threshold parallel decoding (Fast-dLLM style), a commit rule: every masked position of
 * the current block whose top-1 probability (the sampler's float64 `confidence`) exceeds `threshold`
 * (strictly) is committed in this step, on top of the schedule's k_t.
 */
import type { RuleDefinition } from "./definition";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const CONFIDENCE_PARAMS = {
  threshold: {
    type: "number",
    default: 0.9,
    min: 0,
    max: 1,
    doc: "commit a masked token when its top-1 probability is > threshold",
  },
} as const satisfies ParamSpecs;

export class ConfidenceRule implements StopRule {
  readonly name = "confidence";
  readonly polishSteps = 0;
  constructor(private readonly threshold: number) {}
  beginBlock(_block: BlockInfo): void {}
  observe(view: StepView): StepDecision {
    const commit: number[] = [];
    for (let i = 0; i < view.masked.length; i++) if (view.confidence[i] > this.threshold) commit.push(view.masked[i]);
    return { stop: false, commitEarly: commit, sims: null, kl: null, counter: null, margin: null };
  }
  blockThresholds(): null {
    return null;
  }
}

export const confidenceRule: RuleDefinition = {
  name: "confidence",
  role: "commit",
  summary: "Fast-dLLM-style parallel decoding: commit every masked token whose top-1 probability > threshold",
  params: CONFIDENCE_PARAMS,
  create(raw) {
    return new ConfidenceRule(parseParams("confidence", CONFIDENCE_PARAMS, raw).threshold);
  },
};
