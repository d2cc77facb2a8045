/**
 * LESS (Mohamed, Shang, Vazirgiannis 2026, "LESS Is More: Mutual-Stability Sampling for Diffusion
 * Language Models", arXiv:2606.16908), a commit rule. A masked position is eligible for unmasking only
 * when all three hold (the paper's "joint stability rule"):
 *   1. confidence: its top-1 probability p_t(x0) > confThreshold;
 *   2. persistence: its top-1 token x0 is the same in this forward and in each of the previous
 *      `persist` forwards of the block (the position was masked in all of them);
 *   3. distributional stability: JS_K(p_t, p_{t-1}) < jsThreshold, the Jensen-Shannon divergence (nats)
 *      on p_t's top-K tokens plus one bucket for the rest of the mass (logit-stats.ts).
 * The eligible positions are committed now (with x0), on top of the schedule's k_t as for every commit
 * rule of this project.
 * What we could not find: the abstract and summaries give the three conditions, not the paper's
 * defaults or exactly how the top-K JS is normalised. Our documented choices: confThreshold 0.9,
 * persist 2, K 5, jsThreshold 0.01, and the "rest bucket" normalisation (a proper distribution on both
 * sides, so JS stays in [0, ln 2]).
 */
import type { RuleDefinition } from "./definition";
import { topKJensenShannon } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { StepDistributions } from "./step-distributions";

export const LESS_PARAMS = {
  confThreshold: { type: "number", default: 0.9, min: 0, max: 1, doc: "eligible only when the top-1 probability is > confThreshold" },
  persist: { type: "number", default: 2, min: 1, integer: true, doc: "the top-1 token must equal the previous `persist` forwards' top-1 tokens" },
  topK: { type: "number", default: 5, min: 1, integer: true, doc: "K of the top-K Jensen-Shannon divergence" },
  jsThreshold: { type: "number", default: 0.01, min: 0, minExclusive: true, doc: "eligible only when JS_K(p_t, p_t-1) < jsThreshold (nats)" },
} as const satisfies ParamSpecs;

export class LessRule implements StopRule {
  readonly name = "less";
  readonly polishSteps = 0;
  private readonly dists = new StepDistributions();
  private prevTop = new Int32Array(0);
  /** Consecutive earlier forwards whose top-1 equals the current one, per block offset. */
  private same = new Int32Array(0);
  private readonly idx: Int32Array;

  constructor(private readonly p: { confThreshold: number; persist: number; topK: number; jsThreshold: number }) {
    this.idx = new Int32Array(p.topK);
  }

  beginBlock(block: BlockInfo): void {
    const len = block.end - block.start;
    this.dists.beginBlock(block.start, block.end);
    this.prevTop = new Int32Array(len);
    this.same = new Int32Array(len);
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    const d = this.dists;
    d.beginStep(V);
    const commit: number[] = [];
    view.masked.forEach((pos, i) => {
      const o = d.recordSoftmax(view, pos);
      const top = view.x0[i];
      const had = d.hadPrevious(o);
      this.same[o] = had && this.prevTop[o] === top ? this.same[o] + 1 : 0;
      this.prevTop[o] = top;
      if (!had || this.same[o] < this.p.persist || view.confidence[i] <= this.p.confThreshold) return;
      const js = topKJensenShannon(d.cur, o * V, d.prev, o * V, V, this.p.topK, this.idx);
      if (js < this.p.jsThreshold) commit.push(pos);
    });
    d.endStep();
    return { stop: false, commitEarly: commit, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

export const lessRule: RuleDefinition = {
  name: "less",
  role: "commit",
  summary: "LESS (2026): commit a masked token when top-1 prob > confThreshold, its top-1 persisted `persist` steps and top-K JS < jsThreshold",
  params: LESS_PARAMS,
  create(raw) {
    return new LessRule(parseParams("less", LESS_PARAMS, raw));
  },
};
