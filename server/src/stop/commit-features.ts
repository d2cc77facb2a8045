/**
 * Per-token features for the learned commit policy (issue 21, item 3), computed identically when the
 * training data is recorded (research/src/eval/commit-policy-data.ts) and when the policy runs (learned.ts).
 * For masked position s of the block at step t of T_b (p = float64 softmax of its logits row):
 *   conf      p(x0)                                   margin   p(x0) - p(second)
 *   entropy   H(p) (nats)                             stable   min(run, 8) / 8, run = consecutive earlier
 *                                                              forwards of the block with the same x0
 *   offset    (s - block start) / B                   filled   visible fraction of the block
 *   progress  t / T_b                                 left     1 when s - 1 is not masked (before the block or committed)
 *   editCos   mean over the probed modules m of cos(f_{s,m}, u_m): EDIT's per-token signal (Eq 5 with
 *             the token's own activation; u_m = the LoRA-B row energies, Eq 4)
 *   editDrift log10(KL(Q_s^t || Q_s^{t-1}) + 1e-12) / 12, Q_s = softmax over the modules of cos / 0.1
 *             (edit-cos's distribution); -1 before a previous step exists.
 *   isEos     1 when x0 is the end-of-text id        afterEos 1 when a block position left of s holds eos
 *                                                              (committed, or a masked x0): s lies past
 *                                                              the answer's predicted end
 *   minConfLeft  the lowest confidence among the block's masked positions left of s (1 when none)
 *   confRank  how many masked positions are more confident than s, / max(1, masked - 1)
 * EDIT_FEATURES are the two a policy without EDIT's signal leaves out. Policies name the features they
 * read, so one trained before the last four existed still runs.
 */
import type { RuleContext } from "./context";
import { activationsOf } from "./edit";
import { StopRuleContextError } from "./errors";
import { cosine, klDivergenceAt, norm, softmaxInto } from "./math";
import { softmaxRow } from "./logit-stats";
import type { BlockInfo, StepView } from "./rule";
import { rowOffset } from "./rows";

export const FEATURE_NAMES = [
  "conf", "margin", "entropy", "stable", "offset", "filled", "progress", "left", "editCos", "editDrift",
  "isEos", "afterEos", "minConfLeft", "confRank",
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];
export const EDIT_FEATURES: readonly FeatureName[] = ["editCos", "editDrift"];
const COS_TAU = 0.1;

interface Probe {
  module: string;
  u: Float32Array;
  uNorm: number;
  dim: number;
}

export class CommitFeatures {
  private start = 0;
  private len = 0;
  private budget = 1;
  private prevX0 = new Int32Array(0);
  private run = new Int32Array(0);
  private prevQ = new Float64Array(0);
  private hasPrev = new Uint8Array(0);
  private row = new Float64Array(0);
  private readonly probes: Probe[];
  private readonly sims: Float64Array;
  private readonly q: Float64Array;
  /** -1 when the bundle names no eos id: isEos and afterEos are then 0. */
  readonly eosId: number;

  constructor(ctx: RuleContext, name: string) {
    this.eosId = ctx.eosId ?? -1;
    this.probes = ctx.probes
      .filter((m) => ctx.metadata.modules.has(m))
      .map((m) => {
        const meta = ctx.metadata.modules.get(m)!;
        return { module: m, u: meta.u, uNorm: norm(meta.u, 0, meta.dOut), dim: meta.dOut };
      });
    if (this.probes.length < 2) {
      throw new StopRuleContextError(name, "probe modules", `at least 2 exposed modules with u in edit-metadata.safetensors (found ${this.probes.length})`);
    }
    this.sims = new Float64Array(this.probes.length);
    this.q = new Float64Array(this.probes.length);
  }

  beginBlock(block: BlockInfo): void {
    this.start = block.start;
    this.len = block.end - block.start;
    this.budget = block.budget;
    this.prevX0 = new Int32Array(this.len).fill(-1);
    this.run = new Int32Array(this.len);
    this.prevQ = new Float64Array(this.len * this.probes.length);
    this.hasPrev = new Uint8Array(this.len);
  }

  /** One row of FEATURE_NAMES per masked position (aligned with view.masked); updates the per-block state. */
  compute(view: StepView, name: string): Float64Array[] {
    const V = view.vocab;
    const M = this.probes.length;
    if (this.row.length !== V) this.row = new Float64Array(V);
    const data = this.probes.map((pr) => activationsOf(name, view, pr.module, pr.dim));
    const masked = new Set(view.masked);
    const filled = 1 - view.masked.length / this.len;
    const eosAt = this.firstEos(view);
    const n = view.masked.length;
    let minLeft = 1;
    return view.masked.map((s, i) => {
      const o = s - this.start;
      softmaxRow(view.logits, rowOffset(view, s, V), V, this.row, 0);
      const x0 = view.x0[i];
      let second = 0;
      let h = 0;
      for (let v = 0; v < V; v++) {
        const p = this.row[v];
        if (v !== x0 && p > second) second = p;
        if (p > 0) h -= p * Math.log(p);
      }
      this.run[o] = this.prevX0[o] === x0 ? this.run[o] + 1 : 0;
      this.prevX0[o] = x0;
      let cosSum = 0;
      this.probes.forEach((pr, m) => {
        this.sims[m] = cosine(data[m], rowOffset(view, s, pr.dim), pr.u, 0, pr.dim, pr.uNorm);
        cosSum += this.sims[m];
      });
      softmaxInto(this.sims, M, COS_TAU, this.q);
      const drift = this.hasPrev[o] ? Math.log10(klDivergenceAt(this.q, 0, this.prevQ, o * M, M) + 1e-12) / 12 : -1;
      this.prevQ.set(this.q, o * M);
      this.hasPrev[o] = 1;
      const conf = view.confidence[i];
      let above = 0;
      for (let j = 0; j < n; j++) if (view.confidence[j] > conf) above++;
      const row = Float64Array.from([
        conf,
        conf - second,
        h,
        Math.min(this.run[o], 8) / 8,
        o / this.len,
        filled,
        view.step / this.budget,
        masked.has(s - 1) ? 0 : 1,
        cosSum / M,
        drift,
        x0 === this.eosId ? 1 : 0,
        eosAt >= 0 && eosAt < s ? 1 : 0,
        minLeft,
        above / Math.max(1, n - 1),
      ]);
      // view.masked is in position order, so minLeft covers exactly the masked positions left of s.
      minLeft = Math.min(minLeft, conf);
      return row;
    });
  }

  /** The block's first position holding eos (committed, or a masked position's x0); -1 when none. */
  firstEos(view: StepView): number {
    if (this.eosId < 0) return -1;
    let i = 0;
    for (let p = this.start; p < this.start + this.len; p++) {
      const isMasked = i < view.masked.length && view.masked[i] === p;
      const id = isMasked ? view.x0[i++] : view.ids[p];
      if (id === this.eosId) return p;
    }
    return -1;
  }
}
