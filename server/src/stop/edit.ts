/**
 * EDIT (§2.2, Alg. 1): the paper's block-level stop rule.
 *   Sim_s = cos(f_s, u) for s in S_t (Eq 5), P = softmax(Sim / tau) over S_t (Eq 6),
 *   I_t = S_{t-1} ∩ S_t, P~ = P renormalized on I_t for both steps (Eq 7),
 *   D_t = KL(P~(t) || P~(t-1)) (Eq 8), defined only when |I_t| >= 2 (else unstable: c = 0),
 *   c <- c + 1 if D_t < delta else 0; stop at the first t with c >= Omega (and t + polish < T_b).
 * The similarity is injected (`SimilarityKernel`), so edit-subspace (App. E, Eq 31) reuses this class.
 */
import type { CertificateFlags } from "../../../protocol/trace";
import type { ModuleMetadata, RuleContext } from "./context";
import type { RuleDefinition } from "./definition";
import { StopRuleContextError } from "./errors";
import { cosine, klDivergence, norm, renormalizeInPlace, softmaxInto, top2Margin } from "./math";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";
import { RunLengthGate, THRESHOLD_PARAMS, polishParam } from "./run-length";

/** Sim_s of one activation row; `off` is the row's start in the [seq, dim] activation buffer. */
export interface SimilarityKernel {
  readonly module: string;
  readonly dim: number;
  sim(data: Float32Array, off: number): number;
}

export const EDIT_PARAMS = {
  tau: {
    type: "number",
    default: 1.0,
    min: 0,
    minExclusive: true,
    doc: "block temperature tau_blk of Eq 6, fixed for the whole generation (paper: 1.0)",
  },
  ...THRESHOLD_PARAMS,
  polishSteps: polishParam(0),
  probe: {
    type: "string",
    default: "",
    doc: "probed module whose activations f_s are compared (empty = the bundle's default_probe)",
  },
} as const satisfies ParamSpecs;

/** The module the rule reads: `probe` or the metadata's default, which must be exposed and have metadata. */
export function resolveModule(rule: string, ctx: RuleContext, probe: string): { name: string; meta: ModuleMetadata } {
  const name = probe || ctx.metadata.defaultProbe;
  const meta = ctx.metadata.modules.get(name);
  if (!ctx.probes.includes(name) || !meta) {
    throw new StopRuleContextError(
      rule,
      `probe module "${name}"`,
      `a module that the model exposes and that edit-metadata.safetensors describes: ${ctx.probes
        .filter((p) => ctx.metadata.modules.has(p))
        .join(", ")}`,
    );
  }
  return { name, meta };
}

/** The activation rows of `module` in this forward, checked against the metadata's d_out. */
export function activationsOf(rule: string, view: StepView, module: string, dim: number): Float32Array {
  const act = view.activations.get(module);
  // Rows must reach the block's last position (rows start at view.rowStart).
  const last = Math.max(view.visible[view.visible.length - 1] ?? -1, view.masked[view.masked.length - 1] ?? -1);
  const rows = last - view.rowStart + 1;
  if (!act || act.dim !== dim || act.data.length < rows * dim) {
    throw new StopRuleContextError(
      rule,
      `activations of "${module}" at step ${view.step}`,
      `float32 [${rows}, ${dim}] from position ${view.rowStart}` +
        (act ? `, got dim ${act.dim} and ${act.data.length} floats` : ", got none"),
    );
  }
  return act.data;
}

/** Eq 5: cosine with the row-energy vector u (norm precomputed once). */
export function cosineKernel(module: string, meta: ModuleMetadata): SimilarityKernel {
  const u = meta.u;
  const dim = meta.dOut;
  const uNorm = norm(u, 0, dim);
  return { module, dim, sim: (data, off) => cosine(data, off, u, 0, dim, uNorm) };
}

export interface EditParams {
  tau: number;
  deltaFirst: number;
  omegaFirst: number;
  deltaLater: number;
  omegaLater: number;
  polishSteps: number;
}

export class EditRule implements StopRule {
  readonly polishSteps: number;
  private readonly gate: RunLengthGate;
  private start = 0;
  private len = 0;
  /** P(s) by block offset (s - start) at the previous / current step; NaN = not visible then. */
  private prevByPos = new Float64Array(0);
  private curByPos = new Float64Array(0);
  private hasPrev = false;
  /** Scratch, compact over S_t / I_t. */
  private z = new Float64Array(0);
  private p = new Float64Array(0);
  private a = new Float64Array(0);
  private b = new Float64Array(0);

  constructor(
    readonly name: string,
    private readonly params: EditParams,
    private readonly kernel: SimilarityKernel,
    certificates: RuleContext["certificates"],
  ) {
    this.polishSteps = params.polishSteps;
    this.gate = new RunLengthGate(params, params.polishSteps, certificates);
  }

  beginBlock(block: BlockInfo): void {
    this.gate.beginBlock(block);
    this.start = block.start;
    this.len = block.end - block.start;
    if (this.curByPos.length < this.len) {
      for (const k of ["prevByPos", "curByPos", "z", "p", "a", "b"] as const) this[k] = new Float64Array(this.len);
    }
    this.hasPrev = false;
  }

  observe(view: StepView): StepDecision {
    const { dim } = this.kernel;
    const data = activationsOf(this.name, view, this.kernel.module, dim);
    const vis = view.visible;
    const n = vis.length;
    const sims: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const s = this.kernel.sim(data, rowOffset(view, vis[i], dim));
      sims[i] = s;
      this.z[i] = s;
    }
    // Eq 6 over S_t, then keep P by position for the next step's matched support.
    softmaxInto(this.z, n, this.params.tau, this.p);
    const cur = this.curByPos;
    cur.fill(NaN, 0, this.len);
    for (let i = 0; i < n; i++) cur[vis[i] - this.start] = this.p[i];

    let d: number | null = null;
    let margin: number | null = null;
    if (this.hasPrev) {
      // I_t = S_{t-1} ∩ S_t in ascending position order; Eq 7 on both steps.
      let m = 0;
      for (let i = 0; i < n; i++) {
        const prev = this.prevByPos[vis[i] - this.start];
        if (!Number.isNaN(prev)) {
          this.a[m] = this.p[i];
          this.b[m] = prev;
          m++;
        }
      }
      if (m >= 2) {
        renormalizeInPlace(this.a, m);
        renormalizeInPlace(this.b, m);
        d = klDivergence(this.a, this.b, m); // Eq 8: KL(P~(t) || P~(t-1))
        margin = top2Margin(this.a, m);
      }
    }
    // Swap the two buffers: this step's P becomes the next step's P(t-1).
    this.curByPos = this.prevByPos;
    this.prevByPos = cur;
    this.hasPrev = true;

    const stop = this.gate.update(view.step, d, margin);
    return { stop, sims, kl: d, counter: this.gate.counter, margin };
  }

  blockThresholds(): { delta: number; omega: number } {
    return this.gate.thresholdsInForce();
  }

  certificate(): CertificateFlags | null {
    return this.gate.certificate();
  }
}

export const editRule: RuleDefinition = {
  name: "edit",
  role: "stop",
  summary: "EDIT (Alg. 1): stop a block when the matched-support KL of softmax(cos(f_s, u)/tau) stays below delta for Omega steps",
  params: EDIT_PARAMS,
  create(raw, ctx) {
    const p = parseParams("edit", EDIT_PARAMS, raw);
    const { name, meta } = resolveModule("edit", ctx, p.probe);
    return new EditRule("edit", p, cosineKernel(name, meta), ctx.certificates);
  },
};
