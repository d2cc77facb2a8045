/**
 * EB-sampler (Ben-Hamu, Gat, Severo, Nolte, Karrer 2025, "Accelerated Sampling from Masked Diffusion
 * Models via Entropy Bounded Unmasking", arXiv:2505.24857), a commit rule; DiffusionGemma's default
 * sampler (diffusers `EntropyBoundScheduler`, transformers `EntropyBoundSampler`).
 *   H_i = entropy (nats) of the softmax of masked position i's logits row (temperature 1);
 *   sort the block's masked positions by H ascending (ties: lower position first) and accept the
 *   longest prefix 1..k with  sum_{j<=k} H_(j) - max_{j<=k} H_(j) <= gamma
 *   (the left side upper-bounds the accepted tokens' joint mutual information; with ascending order
 *   the max is H_(k), so this is the reference's `cumsum(H) - H <= gamma`). The first position is
 *   always accepted (its left side is 0).
 * Defaults: gamma = 0.1 (DiffusionGemma's `entropy_bound`). Ordering by entropy is DiffusionGemma's
 * choice; the paper also orders by confidence or margin (not offered here). Like the project's other
 * EB-sampler commits exactly the accepted set (never empty: the first token is always accepted), as
 * the paper's Alg. 1 and DiffusionGemma do; `union=true` is this project's earlier variant (the set on
 * top of the schedule's k_t). Greedy x0 (temperature 0), so DiffusionGemma's sampling-temperature
 * schedule (t_max 0.8 -> t_min 0.4) does not apply.
 */
import { commitDecision, UNION_PARAM } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { rowEntropy } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const EB_SAMPLER_PARAMS = {
  gamma: {
    type: "number",
    default: 0.1,
    min: 0,
    doc: "entropy bound: accept the lowest-entropy masked tokens while sum(H) - max(H) <= gamma (nats)",
  },
  union: UNION_PARAM,
} as const satisfies ParamSpecs;

/** The accepted positions for entropies `h` aligned with `positions` (exported for tests and the oracle). */
export function entropyBoundedSet(positions: readonly number[], h: readonly number[], gamma: number): number[] {
  const order = positions.map((p, i) => i).sort((a, b) => h[a] - h[b] || positions[a] - positions[b]);
  const out: number[] = [];
  let sum = 0;
  for (const i of order) {
    sum += h[i];
    if (sum - h[i] > gamma) break; // ascending: h[i] is the max of the prefix
    out.push(positions[i]);
  }
  return out.sort((a, b) => a - b);
}

export class EbSamplerRule implements StopRule {
  readonly name = "eb-sampler";
  readonly polishSteps = 0;
  /** Entropies of the masked positions at the last observed step (aligned with view.masked). */
  lastEntropies: number[] = [];
  constructor(
    private readonly gamma: number,
    private readonly union = false,
  ) {}
  beginBlock(_block: BlockInfo): void {}
  observe(view: StepView): StepDecision {
    const h = view.masked.map((p) => rowEntropy(view.logits, rowOffset(view, p, view.vocab), view.vocab));
    this.lastEntropies = h;
    return commitDecision(entropyBoundedSet(view.masked, h, this.gamma), this.union);
  }
  blockThresholds(): null {
    return null;
  }
}

export const ebSamplerRule: RuleDefinition = {
  name: "eb-sampler",
  role: "commit",
  summary: "EB-sampler (2025): commit only the lowest-entropy masked tokens while sum(H) - max(H) <= gamma",
  params: EB_SAMPLER_PARAMS,
  create(raw) {
    const p = parseParams("eb-sampler", EB_SAMPLER_PARAMS, raw);
    return new EbSamplerRule(p.gamma, p.union);
  },
};
