/**
 * KLASS (Kim, Hong, Jung, Park, Yun 2025, "KLASS: KL-Guided Fast Inference in Masked Diffusion
 * Models", NeurIPS 2025, arXiv:2511.05664; authors' code github.com/shkim0116/KLASS,
 * src/model/llada_klass.py and dream_klass.py), a commit rule, as the authors' LLaDA sampler has it:
 *   p_t = float64 softmax of each position's logits row (L92);
 *   KL_t(i) = sum_v p_t(v) (log(p_t(v) + 1e-12) - log(p_{t-1}(v) + 1e-12)) (L111-114), computed at every
 *   forward for every position the forward returns, with p_{t-1} the position's distribution at the
 *   previous forward WHATEVER block that forward belonged to: `p_prev` and the rolling `kl_history`
 *   (length kl_history_length) live across blocks (L65-68, L116-119); before any forward p_prev = 0, so
 *   the first KL is huge (+Infinity here);
 *   stable(i) = (step within the block >= history - 1) and all `history` KLs < klThreshold (L123-126);
 *   ready(i) = stable(i) and p_t(x0) > confThreshold (L128, strict) and i masked in the current block.
 * The sampler commits exactly the ready set; when it is empty, the schedule's top-k_t by confidence
 * (L176-182; at least one token here). variant "dream" (dream_klass.py L491-531): confidence >=
 * confThreshold, no step gate, and a one-token fallback (the most confident masked token).
 * Defaults: the generate function's (L45: conf_threshold 0.9, kl_threshold 0.01, kl_history_length 2).
 * The paper's scripts use per task (scripts/*.sh, history 2): LLaDA gsm8k 0.6 / 0.015, humaneval 0.6 / 0.01,
 * math 0.9 / 0.01, mbpp 0.7 / 0.01; Dream gsm8k 0.9 / 0.001, humaneval 0.9 / 0.005, math 0.8 / 0.001,
 * mbpp 0.9 / 0.001 (confidence / KL); the eval sweep (research/src/eval/configs.ts) runs them as operating points.
 * To keep p_prev across blocks the rule asks the sampler for every row from the block to the end of the
 * generation (wantsRowsToEnd); it keeps (generation + suffix) x vocab float64 values.
 * `union=true`: this project's earlier variant (the ready set on top of k_t, history reset per block is
 * not restored: the history is the authors').
 */
import { commitDecision, UNION_PARAM } from "./commit-mode";
import type { RuleDefinition } from "./definition";
import { klEps, softmaxRow } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const KLASS_PARAMS = {
  klThreshold: { type: "number", default: 0.01, min: 0, minExclusive: true, doc: "stable when each of the last `history` step-to-step KLs is < klThreshold" },
  history: { type: "number", default: 2, min: 1, integer: true, doc: "how many consecutive step-to-step KLs must be below klThreshold" },
  confThreshold: { type: "number", default: 0.9, min: 0, max: 1, doc: "commit a stable token only when its top-1 probability is > confThreshold (>= for variant dream)" },
  variant: { type: "string", default: "llada", choices: ["llada", "dream"], doc: "llada: conf > threshold, top-k_t fallback (llada_klass.py); dream: conf >= threshold, one-token fallback (dream_klass.py)" },
  union: UNION_PARAM,
} as const satisfies ParamSpecs;

const EPS = 1e-12;

export class KlassRule implements StopRule {
  readonly name = "klass";
  readonly polishSteps = 0;
  readonly wantsRowsToEnd = true;
  /** First position kept (the first block's start) and the number of positions kept (to the sequence end). */
  private base = 0;
  private n = 0;
  private V = 0;
  private prev = new Float64Array(0);
  private hasPrev = new Uint8Array(0);
  /** [n, history]: the last `history` KLs of each position, oldest first. */
  private hist = new Float64Array(0);
  private row = new Float64Array(0);

  constructor(private readonly p: { klThreshold: number; history: number; confThreshold: number; variant: string; union: boolean }) {}

  beginBlock(block: BlockInfo): void {
    if (block.index === 0) {
      // A new generation: forget everything (L65-68 allocate the buffers once per call).
      this.base = block.start;
      this.n = 0;
      this.V = 0;
    }
  }

  private ensure(seqLen: number, V: number): void {
    const n = seqLen - this.base;
    if (this.n === n && this.V === V) return;
    this.n = n;
    this.V = V;
    this.prev = new Float64Array(n * V);
    this.hasPrev = new Uint8Array(n);
    this.hist = new Float64Array(n * this.p.history);
    this.row = new Float64Array(V);
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    const H = this.p.history;
    this.ensure(view.seqLen, V);
    const rows = view.logits.length / V;
    // Every returned row: KL against its previous distribution, roll the history, keep p_t (L111-119).
    for (let r = 0; r < rows; r++) {
      const s = view.rowStart + r - this.base;
      if (s < 0 || s >= this.n) continue;
      softmaxRow(view.logits, r * V, V, this.row, 0);
      const kl = this.hasPrev[s] ? klEps(this.row, 0, this.prev, s * V, V, EPS) : Number.POSITIVE_INFINITY;
      this.hist.copyWithin(s * H, s * H + 1, s * H + H);
      this.hist[s * H + H - 1] = kl;
      this.prev.set(this.row, s * V);
      this.hasPrev[s] = 1;
    }
    const dream = this.p.variant === "dream";
    const ready: number[] = [];
    // LLaDA's sampler gates on the step within the block (L123); Dream's has no blocks and no gate (dream_klass.py L507).
    if (dream || view.step - 1 >= H - 1) {
      view.masked.forEach((pos, i) => {
        const s = pos - this.base;
        for (let h = 0; h < H; h++) if (!(this.hist[s * H + h] < this.p.klThreshold)) return;
        const c = view.confidence[i];
        if (dream ? c >= this.p.confThreshold : c > this.p.confThreshold) ready.push(pos);
      });
    }
    if (dream && ready.length === 0 && !this.p.union && view.masked.length > 0) {
      let best = 0;
      for (let i = 1; i < view.masked.length; i++) if (view.confidence[i] > view.confidence[best]) best = i;
      ready.push(view.masked[best]); // dream_klass.py: one token when nothing is ready
    }
    return commitDecision(ready, this.p.union);
  }

  blockThresholds(): null {
    return null;
  }
}

export const klassRule: RuleDefinition = {
  name: "klass",
  role: "commit",
  summary: "KLASS (2025), as its authors' LLaDA sampler: commit only tokens whose last 2 KLs (kept across blocks) are < 0.01 and top-1 prob > 0.9 (top-k_t when none)",
  params: KLASS_PARAMS,
  create(raw) {
    return new KlassRule(parseParams("klass", KLASS_PARAMS, raw));
  },
};
