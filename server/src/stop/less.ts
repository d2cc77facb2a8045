/**
 * LESS (Mohamed, Shang, Vazirgiannis 2026, "LESS Is More: Mutual-Stability Sampling for Diffusion
 * Language Models", arXiv:2606.16908; authors' code: repository LESS-Is-More, `less_core.py` and
 * `llada_sampling/llada_less.py`, which "mirrors dream_sampling/less.py"), a commit rule, as the
 * authors' LLaDA sampler has it. A masked position of the block is accepted when all three hold:
 *   1. confidence: p_t(x0) >= confThreshold (llada_less.py `conf >= conf_thr_eff`, default 0.75);
 *   2. persistence: its argmax equals the argmax of each of the previous `persist` forwards of this
 *      block (`prev_ids_buf` of length persistence_len = 2, reset at each block start, all entries valid);
 *   3. drift: coarse_topk_js(p_t, p_{t-1}) <= jsThreshold (`drift <= drift_thr_eff`, default 0.04), the
 *      Jensen-Shannon divergence (nats) of the two steps' top-K summaries (K = DRIFT_TOPK = 8): each
 *      side keeps its own top-K (id, prob) pairs, the ids are merged (an id in only one top-K has 0 mass
 *      on the other side) and each side's untracked mass 1 - sum(top-K) is one "other" bucket
 *      (less_core.py `coarse_topk_js`, eps 1e-12 inside the logs, clamped at 0); without a previous
 *      forward in this block the drift is 1 (rejects).
 * The sampler commits exactly the accepted set; when it is empty, the schedule's top-k_t by confidence
 * (at least one token: llada_less.py's fallback `k = max(1, min(k, available))`). `union=true` is this
 * project's earlier variant (the accepted set on top of k_t).
 * `variant=dream` is the authors' Dream sampler (dream_sampling/less.py: frontier-first prefix commit,
 * patience 2, window 16; stricter eos thresholds; eos early stop), in less-dream.ts.
 * Probabilities are float64 here (the authors' code: float32).
 */
import { commitDecision, UNION_PARAM } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { StopRuleParamError } from "./errors";
import { createLessDream } from "./less-dream";
import { coarseTopKJs, topK } from "./less-drift";
import { softmaxRow } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export { coarseTopKJs } from "./less-drift";

export const LESS_PARAMS = {
  confThreshold: { type: "number", default: 0.75, min: 0, max: 1, doc: "accepted only when the top-1 probability is >= confThreshold" },
  persist: { type: "number", default: 2, min: 1, integer: true, doc: "the top-1 token must equal the previous `persist` forwards' top-1 tokens" },
  topK: { type: "number", default: 8, min: 1, integer: true, doc: "K of each step's top-K summary in the coarse Jensen-Shannon drift" },
  jsThreshold: { type: "number", default: 0.04, min: 0, doc: "accepted only when the coarse top-K JS drift is <= jsThreshold (nats)" },
  union: UNION_PARAM,
  variant: {
    type: "string",
    default: "llada",
    choices: ["llada", "dream"],
    doc: "llada: commit the accepted set (llada_less.py); dream: frontier-first prefix commit, eos gates and eos early stop (dream_sampling/less.py)",
  },
  frontierPatience: { type: "number", default: 2, min: 0, integer: true, doc: "variant dream: steps in a row that may commit an accepted token ahead of a waiting frontier" },
  frontierWindow: { type: "number", default: 16, min: 1, integer: true, doc: "variant dream: how far after the frontier (positions) such a token may lie" },
  eosConfThreshold: { type: "number", default: 0.9, min: 0, max: 1, doc: "variant dream: an eos winner also needs top-1 prob >= max(eosConfFloor, eosConfThreshold - eosConfAnneal * progress)" },
  eosConfAnneal: { type: "number", default: 0.1, min: 0, doc: "variant dream: how much the eos confidence threshold falls from the first to the last step" },
  eosConfFloor: { type: "number", default: 0.55, min: 0, max: 1, doc: "variant dream: the eos confidence threshold never falls below this" },
  eosJsMult: { type: "number", default: 0.5, min: 0, doc: "variant dream: an eos winner also needs drift <= jsThreshold * eosJsMult" },
  eosEarlyStop: { type: "boolean", default: true, doc: "variant dream: end the generation once an eos is committed with no mask before it" },
} as const satisfies ParamSpecs;

/** Parameters only the Dream sampler reads. */
const DREAM_ONLY = ["frontierPatience", "frontierWindow", "eosConfThreshold", "eosConfAnneal", "eosConfFloor", "eosJsMult", "eosEarlyStop"] as const;

export class LessRule implements StopRule {
  readonly name = "less";
  readonly polishSteps = 0;
  private start = 0;
  private K: number;
  /** Per block offset: the previous forward's top-K summary (valid when hasPrev), the argmax run length. */
  private prevIds = new Int32Array(0);
  private prevProbs = new Float64Array(0);
  private hasPrev = new Uint8Array(0);
  private prevTop = new Int32Array(0);
  private same = new Int32Array(0);
  private row = new Float64Array(0);
  private readonly ids: Int32Array;
  private readonly probs: Float64Array;

  constructor(private readonly p: { confThreshold: number; persist: number; topK: number; jsThreshold: number; union: boolean }) {
    this.K = p.topK;
    this.ids = new Int32Array(this.K);
    this.probs = new Float64Array(this.K);
  }

  beginBlock(block: BlockInfo): void {
    const len = block.end - block.start;
    this.start = block.start;
    this.prevIds = new Int32Array(len * this.K);
    this.prevProbs = new Float64Array(len * this.K);
    this.hasPrev = new Uint8Array(len);
    this.prevTop = new Int32Array(len);
    this.same = new Int32Array(len);
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    const K = this.K;
    if (this.row.length !== V) this.row = new Float64Array(V);
    const accepted: number[] = [];
    view.masked.forEach((pos, i) => {
      const o = pos - this.start;
      softmaxRow(view.logits, rowOffset(view, pos, V), V, this.row, 0);
      topK(this.row, V, this.ids, this.probs);
      const top = view.x0[i];
      const had = this.hasPrev[o] === 1;
      this.same[o] = had && this.prevTop[o] === top ? this.same[o] + 1 : 0;
      this.prevTop[o] = top;
      const drift = had
        ? coarseTopKJs(this.ids, this.probs, this.prevIds.subarray(o * K, o * K + K), this.prevProbs.subarray(o * K, o * K + K))
        : 1;
      if (this.same[o] >= this.p.persist && view.confidence[i] >= this.p.confThreshold && drift <= this.p.jsThreshold) accepted.push(pos);
      this.prevIds.set(this.ids, o * K);
      this.prevProbs.set(this.probs, o * K);
      this.hasPrev[o] = 1;
    });
    return commitDecision(accepted, this.p.union);
  }

  blockThresholds(): null {
    return null;
  }
}

export const lessRule: RuleDefinition = {
  name: "less",
  role: "commit",
  summary:
    "LESS (2026), as its authors' LLaDA sampler: commit only tokens with top-1 prob >= 0.75, top-1 unchanged 2 forwards and coarse top-8 JS drift <= 0.04 (top-k_t when none); variant=dream: their Dream sampler (frontier-first prefix commit, stricter eos gates, eos early stop)",
  params: LESS_PARAMS,
  create(raw, ctx) {
    const p = parseParams("less", LESS_PARAMS, raw);
    if (p.variant === "dream") return createLessDream(p, ctx.eosId);
    const dreamOnly = DREAM_ONLY.find((name) => name in raw);
    if (dreamOnly) throw new StopRuleParamError("less", dreamOnly, "no value unless variant=dream (the LLaDA sampler has no frontier or eos rule)", String(raw[dreamOnly]));
    return new LessRule(p);
  },
};
