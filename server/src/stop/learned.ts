/**
 * The learned commit policy (issue 21, item 3; in the spirit of Learn2PD, arXiv:2509.25188, which
 * learns a small filter deciding which tokens are final): at each forward, commit exactly the masked
 * tokens whose predicted P(current argmax is final) > threshold (the schedule's top-k_t when none).
 * The network (commit-policy.ts) is trained on val traces against the commit oracle's decisions
 * (training/edit_dllm/commit_policy.py) and shipped in the bundle; `policy` picks one of bundle.json's
 * `commit_policies` ("default": every feature incl. EDIT's per-token cosine signal; "no-edit": the
 * ablation without it).
 *
 * The end of the answer (Learn2PD's end-of-text prediction, in this sampler's terms): e = the block's
 * first position holding eos (committed or a masked argmax). When the policy file carries an
 * end_of_answer network, a masked e whose P(the answer ends here) > eosThreshold is committed; once e is
 * committed and no position left of it is still masked, the text is settled (the answer is the ids
 * before the first eos, and the sampler fills every later block with eos), so the block stops there.
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
  budget: {
    type: "number",
    default: 0,
    min: 0,
    doc: "also commit the tokens most likely final while their expected number of wrong ones, sum of (1 - P), stays <= budget (EB-sampler's error budget on the policy's P); 0: off",
  },
  eosThreshold: { type: "number", default: 0.9, min: 0, max: 1, doc: "commit the answer's end (the block's first eos) when the end-of-answer network's P > eosThreshold" },
  settle: { type: "boolean", default: true, doc: "stop the block once its first eos is committed with nothing masked before it (the text cannot change)" },
} as const satisfies ParamSpecs;

const INDEX: ReadonlyMap<FeatureName, number> = new Map(FEATURE_NAMES.map((f, i) => [f, i]));

export class LearnedRule implements StopRule {
  readonly name = "learned";
  readonly polishSteps = 0;
  lastProbs: number[] = [];
  /** The end-of-answer network's P at the last forward (null when it did not run). */
  lastEoaProb: number | null = null;
  constructor(
    private readonly threshold: number,
    private readonly weights: CommitPolicyWeights,
    private readonly features: CommitFeatures,
    private readonly eos: { threshold: number; settle: boolean } = { threshold: 0.9, settle: true },
    private readonly budget = 0,
  ) {}
  beginBlock(block: BlockInfo): void {
    this.features.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const rows = this.features.compute(view, this.name);
    this.lastProbs = rows.map((r) => commitPolicyProb(this.weights, r, INDEX));
    const take = view.masked.map((_, i) => this.lastProbs[i] > this.threshold);
    if (this.budget > 0) {
      // Most likely final first (ties by position); stop before the expected errors pass the budget.
      const order = view.masked.map((_, i) => i).sort((a, b) => this.lastProbs[b] - this.lastProbs[a] || a - b);
      let risk = 0;
      for (const i of order) {
        risk += 1 - this.lastProbs[i];
        if (risk > this.budget) break;
        take[i] = true;
      }
    }
    this.lastEoaProb = null;
    const e = this.features.firstEos(view);
    if (e < 0) return commitDecision(view.masked.filter((_, i) => take[i]), false);
    const at = view.masked.indexOf(e);
    const eoa = this.weights.end_of_answer;
    if (at >= 0 && eoa) {
      this.lastEoaProb = commitPolicyProb(eoa, rows[at], INDEX);
      if (this.lastEoaProb > this.eos.threshold) take[at] = true;
    }
    const settled = this.eos.settle && (at < 0 || take[at]) && view.masked.every((p, i) => p > e || take[i]);
    if (settled) return { stop: true, sims: null, kl: null, counter: null, margin: null };
    return commitDecision(view.masked.filter((_, i) => take[i]), false);
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
    return new LearnedRule(p.threshold, w, new CommitFeatures(ctx, "learned"), { threshold: p.eosThreshold, settle: p.settle }, p.budget);
  },
};
