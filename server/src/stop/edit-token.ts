/**
 * Token-wise EDIT (App. D): per-token freezing, a per-step commit rule (never stops the block).
 * U = the bundle's `<m>.subspace` [d_out, k]. For every MASKED position s of the current block (the
 * model gives activations at every position, masked ones included):
 *   g_s = U^T f_s,  Q_s = softmax(|g_s| / tauSub) over the k components (Eq 25),
 *   D_{s,t} = KL(Q_s^(t) || Q_s^(t-1)),
 *   run-length c_s <- c_s + 1 if D_{s,t} <= deltaTok else 0 (App. D: "<=", unlike Alg. 1's "<"),
 *   and when c_s >= omegaTok the position is frozen: committed now with its x0 (`commitEarly`).
 * The first step of a block has no Q^(t-1): every counter is 0 there. Visible positions are never
 * touched (they are committed already), so their Q is not computed.
 * Thm 8's per-token certificate, omegaTok * sqrt(deltaTok/2) < m_s(t)/2 with m_s the top-2 margin
 * of Q_s^(t), is evaluated for each frozen position and kept in `lastCertified` (cheap, O(k)).
 */
import type { RuleDefinition } from "./definition";
import { activationsOf, resolveModule } from "./edit";
import { rowOffset } from "./rows";
import { StepDistributions } from "./step-distributions";
import { projectRow, requireSubspace, transposeColumns } from "./edit-subspace";
import { klDivergenceAt, runLengthTvBound, softmaxInto, top2Margin } from "./math";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export const EDIT_TOKEN_PARAMS = {
  tauSub: { type: "number", default: 1.0, min: 0, minExclusive: true, doc: "temperature tau_sub of Eq 25" },
  deltaTok: {
    type: "number",
    default: 0.05,
    min: 0,
    minExclusive: true,
    doc: "per-token KL threshold delta_tok: stable when D_{s,t} <= delta_tok",
  },
  omegaTok: {
    type: "number",
    default: 3,
    min: 1,
    integer: true,
    doc: "consecutive stable steps Omega_tok after which a masked token is frozen (committed)",
  },
  probe: { type: "string", default: "", doc: "probed module (empty = the bundle's default_probe)" },
} as const satisfies ParamSpecs;

export class EditTokenRule implements StopRule {
  readonly name = "edit-token";
  readonly polishSteps = 0;
  /** Positions frozen at the last observed step whose Thm 8 condition holds. */
  lastCertified: number[] = [];
  private readonly dists = new StepDistributions();
  private counters = new Int32Array(0);
  private readonly g: Float64Array;
  private readonly q: Float64Array;
  private readonly bound: number;

  constructor(
    private readonly params: { tauSub: number; deltaTok: number; omegaTok: number },
    private readonly module: string,
    private readonly dim: number,
    /** U transposed, [k, dim]. */
    private readonly uT: Float32Array,
    private readonly k: number,
  ) {
    this.g = new Float64Array(k);
    this.q = new Float64Array(k);
    this.bound = runLengthTvBound(params.deltaTok, params.omegaTok);
  }

  beginBlock(block: BlockInfo): void {
    this.dists.beginBlock(block.start, block.end);
    this.counters = new Int32Array(block.end - block.start);
    this.lastCertified = [];
  }

  observe(view: StepView): StepDecision {
    const { dim, k } = this;
    const data = activationsOf(this.name, view, this.module, dim);
    const frozen: number[] = [];
    const certified: number[] = [];
    const d = this.dists;
    d.beginStep(k);
    for (const s of view.masked) {
      const o = d.slot(s);
      projectRow(data, rowOffset(view, s, dim), this.uT, dim, k, this.g);
      for (let j = 0; j < k; j++) this.g[j] = Math.abs(this.g[j]);
      softmaxInto(this.g, k, this.params.tauSub, this.q); // Eq 25
      const base = o * k;
      d.cur.set(this.q, base);
      if (d.hadPrevious(o) && klDivergenceAt(d.cur, base, d.prev, base, k) <= this.params.deltaTok) {
        this.counters[o]++;
      } else {
        this.counters[o] = 0;
      }
      if (this.counters[o] >= this.params.omegaTok) {
        frozen.push(s);
        if (this.bound < top2Margin(this.q, k) / 2) certified.push(s); // Thm 8
      }
    }
    d.endStep();
    this.lastCertified = certified;
    return { stop: false, commitEarly: frozen, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

export const editTokenRule: RuleDefinition = {
  name: "edit-token",
  role: "commit",
  summary: "Token-wise EDIT (App. D): commit a masked token once KL of softmax(|U^T f_s|/tauSub) stays <= deltaTok for omegaTok steps",
  params: EDIT_TOKEN_PARAMS,
  create(raw, ctx) {
    const p = parseParams("edit-token", EDIT_TOKEN_PARAMS, raw);
    const { name, meta } = resolveModule("edit-token", ctx, p.probe);
    requireSubspace("edit-token", name, meta);
    return new EditTokenRule(p, name, meta.dOut, transposeColumns(meta.subspace, meta.dOut, meta.k), meta.k);
  },
};
