/**
 * KLASS (Kim, Hong, Jung, Park, Yun 2025, "KLASS: KL-Guided Fast Inference in Masked Diffusion
 * Models", NeurIPS 2025, arXiv:2511.05664; code github.com/shkim0116/KLASS), a commit rule.
 * For each masked position i of the block, with p_t = float64 softmax of its logits row:
 *   KL_t(i) = sum_v p_t(v) (log(p_t(v) + eps) - log(p_{t-1}(v) + eps))   (eps = 1e-12, as the code),
 *   i is stable when its last `history` KL values all exist (the position was masked and observed in
 *   each of the previous `history` forwards of this block) and are < klThreshold (strict, as the code),
 *   and it is committed now when stable and its confidence p_t(x0) > confThreshold.
 * Defaults: klThreshold 0.01 and history 2 are the defaults of the KLASS generate function we could read
 * (a third-party port of the released code: `kl_threshold=0.01, kl_history_length=2`); confThreshold 0.9:
 * the README names `conf_threshold` but we found no value for it, so 0.9 (Fast-dLLM's threshold) is our
 * documented choice. KLASS commits only the stable set and falls back to top-k when it is empty; here, as
 * for every commit rule of this project, the schedule's k_t is committed anyway and the stable set is added.
 */
import type { RuleDefinition } from "./definition";
import { klEps, softmaxRow } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const KLASS_PARAMS = {
  klThreshold: { type: "number", default: 0.01, min: 0, minExclusive: true, doc: "stable when each of the last `history` step-to-step KLs is < klThreshold" },
  history: { type: "number", default: 2, min: 1, integer: true, doc: "how many consecutive step-to-step KLs must be below klThreshold" },
  confThreshold: { type: "number", default: 0.9, min: 0, max: 1, doc: "commit a stable token only when its top-1 probability is > confThreshold" },
} as const satisfies ParamSpecs;

const EPS = 1e-12;

export class KlassRule implements StopRule {
  readonly name = "klass";
  readonly polishSteps = 0;
  private start = 0;
  private len = 0;
  private vocab = 0;
  private prev = new Float64Array(0);
  private cur = new Float64Array(0);
  private prevHas = new Uint8Array(0);
  private curHas = new Uint8Array(0);
  /** Consecutive steps (ending now) with KL < klThreshold, per block offset. */
  private run = new Int32Array(0);

  constructor(private readonly p: { klThreshold: number; history: number; confThreshold: number }) {}

  beginBlock(block: BlockInfo): void {
    this.start = block.start;
    this.len = block.end - block.start;
    this.vocab = 0; // (re)allocated on the first observe, when the vocabulary is known
    this.prevHas = new Uint8Array(this.len);
    this.curHas = new Uint8Array(this.len);
    this.run = new Int32Array(this.len);
  }

  private ensure(vocab: number): void {
    if (this.vocab === vocab && this.prev.length === this.len * vocab) return;
    this.vocab = vocab;
    this.prev = new Float64Array(this.len * vocab);
    this.cur = new Float64Array(this.len * vocab);
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    this.ensure(V);
    this.curHas.fill(0);
    const commit: number[] = [];
    view.masked.forEach((pos, i) => {
      const o = pos - this.start;
      softmaxRow(view.logits, rowOffset(view, pos, V), V, this.cur, o * V);
      this.curHas[o] = 1;
      if (this.prevHas[o] && klEps(this.cur, o * V, this.prev, o * V, V, EPS) < this.p.klThreshold) this.run[o]++;
      else this.run[o] = 0;
      if (this.run[o] >= this.p.history && view.confidence[i] > this.p.confThreshold) commit.push(pos);
    });
    [this.prev, this.cur] = [this.cur, this.prev];
    [this.prevHas, this.curHas] = [this.curHas, this.prevHas];
    return { stop: false, commitEarly: commit, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

export const klassRule: RuleDefinition = {
  name: "klass",
  role: "commit",
  summary: "KLASS (2025): commit a masked token whose last `history` step-to-step KLs are < klThreshold and top-1 prob > confThreshold",
  params: KLASS_PARAMS,
  create(raw) {
    return new KlassRule(parseParams("klass", KLASS_PARAMS, raw));
  },
};
