/**
 * EDIT as in the authors' released code (eval/generate_edit.py, check_lora_b_reasoning_convergence),
 * on this project's sampler:
 *   for every probed module m whose metadata has the full U-bar [d_out, r], and every visible token s:
 *     q_s^m = softmax_j( cos(f_s, ubar[:, j]) / T ), j = 1..r,
 *   with T = 2.0 - 1.9 * maskedFraction fixed at block start (the released dynamic temperature,
 *   T_max = 2.0, T_min = 0.1);
 *   D_t = mean over s in I_t = S_{t-1} ∩ S_t and over modules of KL(q_s^(t-1) || q_s^(t))
 *   (note the direction: the released F.kl_div(log q_curr, q_prev) is KL(prev || curr));
 *   D_t is undefined (unstable, c = 0) at the first step of a block and when I_t is empty;
 *   one matched token suffices here (each q_s is a distribution over r components, not over tokens).
 *   Counter, thresholds and stop gate as in edit.ts; polishSteps defaults to 2 (the released default).
 * Departures from the released script, by design of this project's contract: tokens are matched on
 *   I_t (the script compares all of S_t against the previous forward's rows, masked then or not), the
 *   counter is Alg. 1's consecutive run (the script counts stable steps in a sliding window), and no
 *   1e-8 is added to the distributions.
 * Certificate margin (our choice, ambiguous in the paper): the top-2 margin of the averaged
 *   distribution qbar^(t) = mean over s in I_t and modules of q_s^(t) (over r components). By joint
 *   convexity KL(qbar^(t-1) || qbar^(t)) <= D_t, and Pinsker's TV bound is symmetric, so Lemma 1 and
 *   Thm 2 / Thm 4 hold for qbar with D_t in place of the paper's D_t.
 * Trace: `sims` is null (the rule computes per-token distributions, not one similarity per token).
 */
import type { CertificateFlags } from "../../../protocol/trace";
import type { RuleContext } from "./context";
import type { RuleDefinition } from "./definition";
import { activationsOf } from "./edit";
import { rowOffset } from "./rows";
import { StopRuleContextError } from "./errors";
import { projectRow, transposeColumns } from "./edit-subspace";
import { klDivergenceAt, softmaxInto, top2Margin } from "./math";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { RunLengthGate, THRESHOLD_PARAMS, polishParam, type Thresholds } from "./run-length";

export const EDIT_RELEASED_PARAMS = {
  ...THRESHOLD_PARAMS,
  polishSteps: polishParam(2),
} as const satisfies ParamSpecs;

/** The released script's temperature: T_max - (T_max - T_min) * fraction, T in [0.1, 2.0]. */
export function releasedTemperature(maskedFraction: number): number {
  return Math.min(2.0, Math.max(0.1, 2.0 - 1.9 * maskedFraction));
}

interface ProbedModule {
  name: string;
  dim: number;
  /** U-bar transposed, [r, d_out]: one contiguous dot product per column. */
  ubarT: Float32Array;
  /** ||ubar[:, j]|| per column (the script's F.normalize(filter_update, dim=0)). */
  colNorms: Float64Array;
}

export class EditReleasedRule implements StopRule {
  readonly name = "edit-released";
  readonly polishSteps: number;
  private readonly gate: RunLengthGate;
  private readonly r: number;
  private temperature = 1;
  private start = 0;
  private len = 0;
  private hasPrev = false;
  /** q by (module, block offset, component): [M][len * r], previous / current step. */
  private prevQ = new Float64Array(0);
  private curQ = new Float64Array(0);
  private prevVis = new Uint8Array(0);
  private curVis = new Uint8Array(0);
  private readonly acc: Float64Array;
  private readonly z: Float64Array;
  private readonly qbar: Float64Array;

  constructor(
    params: Thresholds & { polishSteps: number },
    private readonly modules: ProbedModule[],
    certificates: RuleContext["certificates"],
  ) {
    this.polishSteps = params.polishSteps;
    this.gate = new RunLengthGate(params, params.polishSteps, certificates);
    this.r = modules[0].colNorms.length;
    this.acc = new Float64Array(this.r);
    this.z = new Float64Array(this.r);
    this.qbar = new Float64Array(this.r);
  }

  beginBlock(block: BlockInfo): void {
    this.gate.beginBlock(block);
    this.temperature = releasedTemperature(block.maskedFraction);
    this.start = block.start;
    this.len = block.end - block.start;
    const size = this.modules.length * this.len * this.r;
    if (this.curQ.length < size) {
      this.prevQ = new Float64Array(size);
      this.curQ = new Float64Array(size);
    }
    if (this.curVis.length < this.len) {
      this.prevVis = new Uint8Array(this.len);
      this.curVis = new Uint8Array(this.len);
    }
    this.hasPrev = false;
  }

  /** q_s^m for the row at `off` into curQ at `base`. */
  private tokenDistribution(mod: ProbedModule, data: Float32Array, off: number, base: number): void {
    const { dim, ubarT, colNorms } = mod;
    const r = this.r;
    const fNorm = projectRow(data, off, ubarT, dim, r, this.acc);
    for (let j = 0; j < r; j++) {
      const den = fNorm * colNorms[j];
      this.z[j] = den > 0 ? this.acc[j] / den : 0;
    }
    softmaxInto(this.z, r, this.temperature, this.acc);
    for (let j = 0; j < r; j++) this.curQ[base + j] = this.acc[j];
  }

  observe(view: StepView): StepDecision {
    const r = this.r;
    const stride = this.len * r;
    const vis = view.visible;
    this.curVis.fill(0, 0, this.len);
    for (const s of vis) this.curVis[s - this.start] = 1;
    for (let mi = 0; mi < this.modules.length; mi++) {
      const mod = this.modules[mi];
      const data = activationsOf(this.name, view, mod.name, mod.dim);
      for (const s of vis) this.tokenDistribution(mod, data, rowOffset(view, s, mod.dim), mi * stride + (s - this.start) * r);
    }

    let d: number | null = null;
    let margin: number | null = null;
    if (this.hasPrev) {
      let sum = 0;
      let matched = 0;
      this.qbar.fill(0);
      for (const s of vis) {
        const o = s - this.start;
        if (!this.prevVis[o]) continue;
        matched++;
        for (let mi = 0; mi < this.modules.length; mi++) {
          const base = mi * stride + o * r;
          sum += klDivergenceAt(this.prevQ, base, this.curQ, base, r);
          for (let j = 0; j < r; j++) this.qbar[j] += this.curQ[base + j];
        }
      }
      if (matched > 0) {
        const count = matched * this.modules.length;
        d = sum / count;
        for (let j = 0; j < r; j++) this.qbar[j] /= count;
        const m = top2Margin(this.qbar, r);
        margin = Number.isNaN(m) ? null : m;
      }
    }
    [this.prevQ, this.curQ] = [this.curQ, this.prevQ];
    [this.prevVis, this.curVis] = [this.curVis, this.prevVis];
    this.hasPrev = true;

    const stop = this.gate.update(view.step, d, margin);
    return { stop, sims: null, kl: d, counter: this.gate.counter, margin };
  }

  blockThresholds(): { delta: number; omega: number } {
    return this.gate.thresholdsInForce();
  }

  certificate(): CertificateFlags | null {
    return this.gate.certificate();
  }
}

export const editReleasedRule: RuleDefinition = {
  name: "edit-released",
  role: "stop",
  summary:
    "EDIT as in the authors' released code: mean per-token KL(prev || curr) of softmax(cos(f_s, ubar_j)/T) over all probed modules with U-bar",
  params: EDIT_RELEASED_PARAMS,
  create(raw, ctx) {
    const p = parseParams("edit-released", EDIT_RELEASED_PARAMS, raw);
    const modules: ProbedModule[] = [];
    for (const name of ctx.probes) {
      const meta = ctx.metadata.modules.get(name);
      if (!meta || !meta.ubar) continue;
      if (meta.ubar.length !== meta.dOut * meta.rank || meta.rank < 1) {
        throw new StopRuleContextError("edit-released", `edit-metadata tensor "${name}.ubar"`, `float32 [${meta.dOut}, ${meta.rank}]`);
      }
      const colNorms = new Float64Array(meta.rank);
      for (let i = 0; i < meta.dOut; i++) {
        for (let j = 0; j < meta.rank; j++) colNorms[j] += meta.ubar[i * meta.rank + j] ** 2;
      }
      for (let j = 0; j < meta.rank; j++) colNorms[j] = Math.sqrt(colNorms[j]);
      modules.push({ name, dim: meta.dOut, ubarT: transposeColumns(meta.ubar, meta.dOut, meta.rank), colNorms });
    }
    if (modules.length === 0) {
      throw new StopRuleContextError(
        "edit-released",
        "edit-metadata.safetensors",
        "a `<module>.ubar` tensor for at least one probed module (record the metadata with --full-ubar)",
      );
    }
    if (modules.some((m) => m.colNorms.length !== modules[0].colNorms.length)) {
      throw new StopRuleContextError("edit-released", "edit-metadata ubar tensors", "the same rank r for every probed module");
    }
    return new EditReleasedRule(p, modules, ctx.certificates);
  },
};
