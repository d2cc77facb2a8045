/** Full denoising: never stops a block early (every block runs its budget T_b). */
import type { RuleDefinition } from "./definition";
import { parseParams } from "./params";
import type { BlockInfo, StepDecision, StopRule } from "./rule";

export class FullRule implements StopRule {
  readonly name = "full";
  readonly polishSteps = 0;
  beginBlock(_block: BlockInfo): void {}
  observe(): StepDecision {
    return { stop: false, sims: null, kl: null, counter: null, margin: null };
  }
  blockThresholds(): null {
    return null;
  }
}

export const fullRule: RuleDefinition = {
  name: "full",
  role: "stop",
  summary: "full denoising: every block runs its whole budget",
  params: {},
  create(raw) {
    parseParams("full", {}, raw);
    return new FullRule();
  },
};
