/**
 * Fixed early stop: stop every block after `n` forwards, then polish like EDIT (`polishSteps`).
 * The matched-cost baseline for EDIT: same forwards, no metadata. Like EDIT, a stop that saves
 * nothing (n + polishSteps >= T_b) is not taken.
 */
import type { RuleDefinition } from "./definition";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { polishParam } from "./run-length";

export const FIXED_PARAMS = {
  n: { type: "number", default: 8, min: 1, integer: true, doc: "forwards per block before the stop" },
  polishSteps: polishParam(0),
} as const satisfies ParamSpecs;

export class FixedRule implements StopRule {
  readonly name = "fixed";
  private budget = 0;
  private stopped = false;
  constructor(private readonly n: number, readonly polishSteps: number) {}
  beginBlock(block: BlockInfo): void {
    this.budget = block.budget;
    this.stopped = false;
  }
  observe(view: StepView): StepDecision {
    const stop = !this.stopped && view.step >= this.n && view.step + this.polishSteps < this.budget;
    if (stop) this.stopped = true;
    return { stop, sims: null, kl: null, counter: null, margin: null };
  }
  blockThresholds(): null {
    return null;
  }
}

export const fixedRule: RuleDefinition = {
  name: "fixed",
  role: "stop",
  summary: "stop every block after n forwards (then polishSteps): the matched-cost baseline",
  params: FIXED_PARAMS,
  create(raw) {
    const p = parseParams("fixed", FIXED_PARAMS, raw);
    return new FixedRule(p.n, p.polishSteps);
  },
};
