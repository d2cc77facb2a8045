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
 * Not implemented: the Dream sampler's frontier-first prefix commit (patience 2, window 16), its
 * stricter eos thresholds and eos early stop (dream_sampling/less.py): the embedded bundle is
 * LLaDA-style (no logit shift). Probabilities are float64 here (the authors' code: float32).
 */
import { commitDecision, UNION_PARAM } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { softmaxRow } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const LESS_PARAMS = {
  confThreshold: { type: "number", default: 0.75, min: 0, max: 1, doc: "accepted only when the top-1 probability is >= confThreshold" },
  persist: { type: "number", default: 2, min: 1, integer: true, doc: "the top-1 token must equal the previous `persist` forwards' top-1 tokens" },
  topK: { type: "number", default: 8, min: 1, integer: true, doc: "K of each step's top-K summary in the coarse Jensen-Shannon drift" },
  jsThreshold: { type: "number", default: 0.04, min: 0, doc: "accepted only when the coarse top-K JS drift is <= jsThreshold (nats)" },
  union: UNION_PARAM,
} as const satisfies ParamSpecs;

const JS_EPS = 1e-12;

/** One side's contribution p (log(p + eps) - log(m + eps)) to a KL against the mixture m. */
function klTerm(p: number, m: number): number {
  return p * (Math.log(p + JS_EPS) - Math.log(m + JS_EPS));
}

/**
 * less_core.py `coarse_topk_js` for one position: JS (nats) between two top-K summaries, each its own
 * (ids, probs) plus an "other" bucket with the untracked mass; ids present in only one summary carry
 * 0 on the other side.
 */
export function coarseTopKJs(ids: ArrayLike<number>, probs: ArrayLike<number>, prevIds: ArrayLike<number>, prevProbs: ArrayLike<number>): number {
  let kl = 0;
  let pSum = 0;
  let qSum = 0;
  for (let a = 0; a < ids.length; a++) {
    const p = probs[a];
    pSum += p;
    let q = 0;
    for (let b = 0; b < prevIds.length; b++) if (prevIds[b] === ids[a]) q += prevProbs[b];
    const m = 0.5 * (p + q);
    kl += klTerm(p, m) + klTerm(q, m);
  }
  for (let b = 0; b < prevIds.length; b++) {
    const q = prevProbs[b];
    qSum += q;
    let inCur = false;
    for (let a = 0; a < ids.length; a++) if (ids[a] === prevIds[b]) inCur = true;
    if (!inCur) kl += klTerm(q, 0.5 * q); // p = 0 on this id
  }
  const pO = Math.max(0, 1 - pSum);
  const qO = Math.max(0, 1 - qSum);
  const mO = 0.5 * (pO + qO);
  kl += klTerm(pO, mO) + klTerm(qO, mO);
  return Math.max(0, 0.5 * kl);
}

/** The K largest entries of p[off, off + n) in descending order (ties: lower id first), into ids/probs. */
function topK(p: Float64Array, n: number, ids: Int32Array, probs: Float64Array): void {
  const k = ids.length;
  ids.fill(-1);
  probs.fill(-1);
  for (let v = 0; v < n; v++) {
    const x = p[v];
    if (x <= probs[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && probs[j - 1] < x) {
      probs[j] = probs[j - 1];
      ids[j] = ids[j - 1];
      j--;
    }
    probs[j] = x;
    ids[j] = v;
  }
  for (let j = 0; j < k; j++) if (ids[j] < 0) probs[j] = 0; // vocabulary smaller than K
}

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
  summary: "LESS (2026), as its authors' LLaDA sampler: commit only tokens with top-1 prob >= 0.75, top-1 unchanged 2 forwards and coarse top-8 JS drift <= 0.04 (top-k_t when none)",
  params: LESS_PARAMS,
  create(raw) {
    return new LessRule(parseParams("less", LESS_PARAMS, raw));
  },
};
