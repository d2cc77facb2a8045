/**
 * CreditDecoding (2025, "CreditDecoding: Accelerating Parallel Decoding in Diffusion Large Language
 * Models with Trace Credits", arXiv:2510.06133), a commit rule that accumulates each position's history
 * of top-1 predictions as "trace credit" and fuses it into the logits before the confidence test.
 * Per masked position i of the block, at every forward:
 *   C_i(v) <- gamma C_i(v) for every v, then C_i(x0_i) += p_t(x0_i)^alpha   (decay, then credit the top-1);
 *   fused logits z'_i(v) = z_i(v) + lambda log(1 + C_i(v)), fused softmax p'_i;
 *   confidence_i = max(p_t(x0_i), max_v p'_i(v)), with the fused argmax as the candidate when it wins;
 *   commit every masked i with confidence_i > threshold, and always the most confident one.
 * Source of the formulas and defaults: the public sglang implementation that names itself an
 * unofficial implementation of the paper (`CreditDecoding(DllmAlgorithm)`: threshold 0.95,
 * credit_decay_gamma 0.65, credit_fusion_lambda 0.70, credit_prob_alpha 0.5; credits reset per block);
 * we keep a dense credit per vocabulary id (that code keeps the 8 largest per position).
 * Deviation (documented): the sampler commits a forward's x0; where the fused argmax differs from x0
 * the position is not committed at this forward (credit only makes the current top-1 more or less
 * confident here). The sampler commits exactly this set (never empty while a masked token's x0 is the
 * most confident candidate; else the schedule's top-k_t).
 */
import { commitDecision } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const CREDIT_PARAMS = {
  threshold: { type: "number", default: 0.95, min: 0, max: 1, doc: "commit a masked token whose (credit-fused) top-1 probability is > threshold" },
  gamma: { type: "number", default: 0.65, min: 0, max: 1, doc: "credit decay per forward" },
  lambda: { type: "number", default: 0.7, min: 0, doc: "fusion strength: logits + lambda log(1 + credit)" },
  alpha: { type: "number", default: 0.5, min: 0, minExclusive: true, doc: "concave exponent of the credited probability p^alpha" },
} as const satisfies ParamSpecs;

export class CreditDecodingRule implements StopRule {
  readonly name = "credit-decoding";
  readonly polishSteps = 0;
  private start = 0;
  private V = 0;
  /** [block length, vocab] credits of this block. */
  private credit = new Float64Array(0);
  private len = 0;
  /** Fused top-1 probability at the last observed step, aligned with view.masked (tests, features). */
  lastConfidence: number[] = [];

  constructor(private readonly p: { threshold: number; gamma: number; lambda: number; alpha: number }) {}

  beginBlock(block: BlockInfo): void {
    this.start = block.start;
    this.len = block.end - block.start;
    this.V = 0;
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    if (this.V !== V) {
      this.V = V;
      this.credit = new Float64Array(this.len * V);
    }
    const { gamma, lambda, alpha } = this.p;
    const conf: number[] = [];
    view.masked.forEach((pos, i) => {
      const c = (pos - this.start) * V;
      const off = rowOffset(view, pos, V);
      const x0 = view.x0[i];
      for (let v = 0; v < V; v++) this.credit[c + v] *= gamma;
      this.credit[c + x0] += Math.max(view.confidence[i], 1e-6) ** alpha;
      // Fused softmax: z + lambda log(1 + C).
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, view.logits[off + v] + lambda * Math.log1p(this.credit[c + v]));
      let sum = 0;
      let best = 0;
      let bestZ = -Infinity;
      for (let v = 0; v < V; v++) {
        const z = view.logits[off + v] + lambda * Math.log1p(this.credit[c + v]);
        sum += Math.exp(z - max);
        if (z > bestZ) {
          bestZ = z;
          best = v;
        }
      }
      const fused = Math.exp(bestZ - max) / sum;
      // The candidate is the fused argmax when its fused probability beats the raw one; only x0 can be committed.
      conf.push(fused > view.confidence[i] && best !== x0 ? -1 : Math.max(view.confidence[i], best === x0 ? fused : 0));
    });
    this.lastConfidence = conf;
    const set: number[] = [];
    let top = -1;
    conf.forEach((c, i) => {
      if (c > this.p.threshold) set.push(view.masked[i]);
      if (c >= 0 && (top < 0 || c > conf[top])) top = i;
    });
    if (top >= 0 && !set.includes(view.masked[top])) set.push(view.masked[top]);
    return commitDecision(set.sort((a, b) => a - b), false);
  }

  blockThresholds(): null {
    return null;
  }
}

export const creditDecodingRule: RuleDefinition = {
  name: "credit-decoding",
  role: "commit",
  summary: "CreditDecoding (2025): fuse each token's decayed history of top-1 credits into its logits; commit fused prob > 0.95 and the most confident",
  params: CREDIT_PARAMS,
  create(raw) {
    return new CreditDecodingRule(parseParams("credit-decoding", CREDIT_PARAMS, raw));
  },
};
