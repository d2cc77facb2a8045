/**
 * The learned commit policy (issue 21, item 3; in the spirit of Learn2PD, arXiv:2509.25188, which
 * learns a small filter deciding which tokens are final): at each forward, commit exactly the masked
 * tokens whose predicted P(current argmax is final) > threshold (the schedule's top-k_t when none).
 * The network (commit-policy.ts) is trained on val traces against the commit oracle's decisions
 * (training/edit_dllm/commit_policy.py) and shipped in the bundle; `policy` picks one of bundle.json's
 * `commit_policies` ("default": every feature incl. EDIT's per-token cosine signal; "no-edit": the
 * ablation without it).
 */
import type { RuleContext } from "./context";
import { CommitFeatures, FEATURE_NAMES, type FeatureName } from "./commit-features";
import { commitDecision } from "./commit-mode";
import { commitPolicyProb, type CommitPolicyWeights } from "./commit-policy";
import type { RuleDefinition } from "./definition";
import { StopRuleContextError } from "./errors";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const LEARNED_PARAMS = {
  threshold: { type: "number", default: 0.5, min: 0, max: 1, doc: "commit a masked token whose predicted P(final) is > threshold" },
  policy: { type: "string", default: "default", doc: "which of bundle.json's commit_policies to run (default, no-edit)" },
} as const satisfies ParamSpecs;

const INDEX: ReadonlyMap<FeatureName, number> = new Map(FEATURE_NAMES.map((f, i) => [f, i]));

export class LearnedRule implements StopRule {
  readonly name = "learned";
  readonly polishSteps = 0;
  lastProbs: number[] = [];
  constructor(
    private readonly threshold: number,
    private readonly weights: CommitPolicyWeights,
    private readonly features: CommitFeatures,
  ) {}
  beginBlock(block: BlockInfo): void {
    this.features.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const rows = this.features.compute(view, this.name);
    this.lastProbs = rows.map((r) => commitPolicyProb(this.weights, r, INDEX));
    const set = view.masked.filter((_, i) => this.lastProbs[i] > this.threshold);
    return commitDecision(set, false);
  }
  blockThresholds(): null {
    return null;
  }
}

export const learnedRule: RuleDefinition = {
  name: "learned",
  role: "commit",
  summary: "a learned commit policy (bundle.json commit_policies): commit only tokens whose predicted P(final) > threshold",
  params: LEARNED_PARAMS,
  create(raw, ctx: RuleContext) {
    const p = parseParams("learned", LEARNED_PARAMS, raw);
    const w = ctx.commitPolicies?.[p.policy];
    if (!w) {
      const have = Object.keys(ctx.commitPolicies ?? {});
      throw new StopRuleContextError("learned", `commit policy "${p.policy}"`, have.length ? `one of ${have.join(", ")} (bundle.json commit_policies)` : "a bundle whose bundle.json names commit_policies");
    }
    return new LearnedRule(p.threshold, w, new CommitFeatures(ctx, "learned"));
  },
};
