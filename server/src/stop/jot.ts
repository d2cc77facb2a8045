/**
 * Jot ("Just on Time", Kohut et al.): training-free per-token early commit, a commit rule.
 * Our instantiation (the summary names the ingredients but leaves details open):
 *   for each masked position i of the current block, from this forward's logits row (float64 softmax,
 *   temperature 1, max-subtracted): r_i = p1 / (p2 + eps), p1 >= p2 the two largest probabilities;
 *   spatial proximity phi_i = sum_{j resolved, 0<|i-j|<=window} gamma^|i-j|
 *                           / sum_{j in [0, seq), 0<|i-j|<=window} gamma^|i-j|   (in [0, 1]),
 *   where "resolved" = not the mask id in this forward's INPUT (prompt tokens count; positions
 *   committed later in the same step do not); phi_i = 0 when the window holds no position;
 *   tau_i = tauMax - (tauMax - tauMin) * phi_i   (near resolved context the bar is lower);
 *   commit i now (with its x0) when r_i >= tau_i.
 */
import type { RuleDefinition } from "./definition";
import { StopRuleParamError } from "./errors";
import { top2Probs } from "./math";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const JOT_PARAMS = {
  tauMin: { type: "number", default: 3, min: 0, doc: "ratio threshold next to fully resolved context (phi = 1)" },
  tauMax: { type: "number", default: 30, min: 0, doc: "ratio threshold with no resolved neighbour (phi = 0); >= tauMin" },
  gamma: {
    type: "number",
    default: 0.5,
    min: 0,
    max: 1,
    minExclusive: true,
    doc: "decay of a neighbour's weight with distance: gamma^|i-j|",
  },
  window: { type: "number", default: 8, min: 1, integer: true, doc: "neighbours on each side that phi looks at" },
  eps: { type: "number", default: 1e-6, min: 0, minExclusive: true, doc: "epsilon of r = p1 / (p2 + eps)" },
} as const satisfies ParamSpecs;

export interface JotParams {
  tauMin: number;
  tauMax: number;
  gamma: number;
  window: number;
  eps: number;
}

export class JotRule implements StopRule {
  readonly name = "jot";
  readonly polishSteps = 0;
  /** gamma^d for d = 0..window. */
  private readonly weights: Float64Array;
  private readonly top2 = new Float64Array(2);

  constructor(private readonly params: JotParams) {
    this.weights = new Float64Array(params.window + 1);
    for (let d = 0; d <= params.window; d++) this.weights[d] = Math.pow(params.gamma, d);
  }

  beginBlock(_block: BlockInfo): void {}

  /** phi_i of position i given this forward's input ids. */
  proximity(view: StepView, i: number): number {
    const { window } = this.params;
    let num = 0;
    let den = 0;
    const lo = Math.max(0, i - window);
    const hi = Math.min(view.seqLen - 1, i + window);
    for (let j = lo; j <= hi; j++) {
      if (j === i) continue;
      const w = this.weights[Math.abs(i - j)];
      den += w;
      if (view.ids[j] !== view.maskId) num += w;
    }
    return den > 0 ? num / den : 0;
  }

  observe(view: StepView): StepDecision {
    const { tauMin, tauMax, eps } = this.params;
    const commit: number[] = [];
    for (const i of view.masked) {
      top2Probs(view.logits, rowOffset(view, i, view.vocab), view.vocab, this.top2);
      const ratio = this.top2[0] / (this.top2[1] + eps);
      const tau = tauMax - (tauMax - tauMin) * this.proximity(view, i);
      if (ratio >= tau) commit.push(i);
    }
    return { stop: false, commitEarly: commit, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

export const jotRule: RuleDefinition = {
  name: "jot",
  role: "commit",
  summary: "Jot: commit a masked token when p1/(p2+eps) >= tauMax - (tauMax-tauMin)*phi, phi = resolved-neighbour weight",
  params: JOT_PARAMS,
  create(raw) {
    const p = parseParams("jot", JOT_PARAMS, raw);
    if (p.tauMax < p.tauMin) throw new StopRuleParamError("jot", "tauMax", `a number >= tauMin (${p.tauMin})`, String(p.tauMax));
    return new JotRule(p);
  },
};
