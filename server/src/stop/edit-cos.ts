/**
 * EDIT's own signal as a per-token commit rule: the u-cosine distribution of each masked token.
 * App. D (token-wise EDIT, `edit-token`) freezes a token when its distribution over the top-k
 * directions of one module's U-bar stops moving; here the distribution is the paper's Eq 5-6 signal
 * itself, taken per token across the probed modules instead of across tokens:
 *   Sim_{s,m} = cos(f_{s,m}, u_m) for every probe module m (Eq 5; all of bundle.json's probes, e.g.
 *     Q/K/V of every block),
 *   Q_s = softmax(Sim_{s,.} / cosTau) over the modules (Eq 6 with the roles of tokens and modules swapped),
 *   D_{s,t} = KL(Q_s^(t) || Q_s^(t-1)) (Eq 8), c_s <- c_s + 1 if D_{s,t} <= cosDelta else 0 (App. D's "<="),
 *   commit s now (with its x0) once c_s >= cosOmega.
 * Like edit-token, the first forward of a block has no Q^(t-1) (every counter 0), and a token needs
 * cosOmega + 1 forwards while masked. Defaults: cosTau 0.1, cosDelta 1e-4, cosOmega 2 (our choice:
 * docs/evaluation.md shows D_t on this model is far below the paper's delta at tau 1; the sweep varies them).
 */
import type { RuleContext } from "./context";
import type { RuleDefinition } from "./definition";
import { activationsOf } from "./edit";
import { StopRuleContextError } from "./errors";
import { cosine, klDivergenceAt, norm, softmaxInto } from "./math";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";
import { StepDistributions } from "./step-distributions";

export const EDIT_COS_PARAMS = {
  cosTau: { type: "number", default: 0.1, min: 0, minExclusive: true, doc: "temperature of the per-token softmax over the modules' cosines" },
  cosDelta: { type: "number", default: 1e-4, min: 0, minExclusive: true, doc: "stable step when KL(Q_s^t || Q_s^t-1) <= cosDelta" },
  cosOmega: { type: "number", default: 2, min: 1, integer: true, doc: "consecutive stable steps after which a masked token is committed" },
} as const satisfies ParamSpecs;

interface Probe {
  module: string;
  u: Float32Array;
  uNorm: number;
  dim: number;
}

export class EditCosRule implements StopRule {
  readonly name = "edit-cos";
  readonly polishSteps = 0;
  private readonly dists = new StepDistributions();
  private counters = new Int32Array(0);
  private readonly sims: Float64Array;
  private readonly q: Float64Array;

  constructor(
    private readonly p: { cosTau: number; cosDelta: number; cosOmega: number },
    private readonly probes: Probe[],
  ) {
    this.sims = new Float64Array(probes.length);
    this.q = new Float64Array(probes.length);
  }

  beginBlock(block: BlockInfo): void {
    this.dists.beginBlock(block.start, block.end);
    this.counters = new Int32Array(block.end - block.start);
  }

  /** Q_s of position s in this forward (exported through the rule for tests). */
  distribution(view: StepView, s: number, out: Float64Array, data = this.rows(view)): Float64Array {
    this.probes.forEach((pr, m) => {
      this.sims[m] = cosine(data[m], rowOffset(view, s, pr.dim), pr.u, 0, pr.dim, pr.uNorm);
    });
    return softmaxInto(this.sims, this.probes.length, this.p.cosTau, out);
  }

  private rows(view: StepView): Float32Array[] {
    return this.probes.map((pr) => activationsOf(this.name, view, pr.module, pr.dim));
  }

  observe(view: StepView): StepDecision {
    const M = this.probes.length;
    const data = this.rows(view);
    const commit: number[] = [];
    const d = this.dists;
    d.beginStep(M);
    for (const s of view.masked) {
      const o = d.slot(s);
      this.distribution(view, s, this.q, data);
      d.cur.set(this.q, o * M);
      if (d.hadPrevious(o) && klDivergenceAt(d.cur, o * M, d.prev, o * M, M) <= this.p.cosDelta) this.counters[o]++;
      else this.counters[o] = 0;
      if (this.counters[o] >= this.p.cosOmega) commit.push(s);
    }
    d.endStep();
    return { stop: false, commitEarly: commit, sims: null, kl: null, counter: null, margin: null };
  }

  blockThresholds(): null {
    return null;
  }
}

/** Every exposed probe module that has metadata (at least two: a one-module softmax is constant). */
function probesOf(ctx: RuleContext): Probe[] {
  const probes = ctx.probes
    .filter((m) => ctx.metadata.modules.has(m))
    .map((m) => {
      const meta = ctx.metadata.modules.get(m)!;
      return { module: m, u: meta.u, uNorm: norm(meta.u, 0, meta.dOut), dim: meta.dOut };
    });
  if (probes.length < 2) {
    throw new StopRuleContextError("edit-cos", "probe modules", `at least 2 exposed modules with u in edit-metadata.safetensors (found ${probes.length})`);
  }
  return probes;
}

export const editCosRule: RuleDefinition = {
  name: "edit-cos",
  role: "commit",
  summary: "EDIT per token: commit a masked token once its softmax over the modules' cos(f, u) stays within KL cosDelta for cosOmega steps",
  params: EDIT_COS_PARAMS,
  create(raw, ctx) {
    return new EditCosRule(parseParams("edit-cos", EDIT_COS_PARAMS, raw), probesOf(ctx));
  },
};
