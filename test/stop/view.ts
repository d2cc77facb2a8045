/** Hand-built StepViews and RuleContexts for the stop-rule tests (no model, no bundle). */
import type { ParamValue } from "../../protocol/lsp";
import type { ModuleMetadata, RuleContext } from "../../server/src/stop/context";
import type { BlockInfo, StepView } from "../../server/src/stop/rule";

export const MASK = 3;

export interface ViewSpec {
  step: number;
  seqLen: number;
  /** Current block [start, end). */
  block: [number, number];
  /** Visible positions of the block; every other block position is masked. Positions before the block are prompt. */
  visible: number[];
  /** Activation rows by module: position -> row (missing rows are zero). */
  acts?: Record<string, { dim: number; rows: Record<number, number[]> }>;
  vocab?: number;
  /** Logits rows by position (missing rows are zero). */
  logits?: Record<number, number[]>;
  /** Confidence per masked position, aligned with the masked list (default 0). */
  confidence?: number[];
  /** Positions after the block that are resolved (default: none; the rest is masked). */
  resolvedAfter?: number[];
}

export function view(spec: ViewSpec): StepView {
  const [start, end] = spec.block;
  const vocab = spec.vocab ?? 4;
  const ids = new Int32Array(spec.seqLen).fill(MASK);
  for (let i = 0; i < start; i++) ids[i] = 10 + i;
  for (const p of spec.visible) ids[p] = 20 + p;
  for (const p of spec.resolvedAfter ?? []) ids[p] = 30 + p;
  const masked: number[] = [];
  for (let p = start; p < end; p++) if (!spec.visible.includes(p)) masked.push(p);
  const logits = new Float32Array(spec.seqLen * vocab);
  for (const [p, row] of Object.entries(spec.logits ?? {})) logits.set(row, Number(p) * vocab);
  const activations = new Map<string, { data: Float32Array; dim: number }>();
  for (const [name, { dim, rows }] of Object.entries(spec.acts ?? {})) {
    const data = new Float32Array(spec.seqLen * dim);
    for (const [p, row] of Object.entries(rows)) data.set(row, Number(p) * dim);
    activations.set(name, { data, dim });
  }
  return {
    step: spec.step,
    ids,
    maskId: MASK,
    seqLen: spec.seqLen,
    vocab,
    rowStart: 0,
    logits,
    activations,
    visible: [...spec.visible].sort((a, b) => a - b),
    masked,
    x0: new Int32Array(masked.length),
    confidence: Float64Array.from(spec.confidence ?? masked.map(() => 0)),
  };
}

export function block(index: number, start: number, end: number, budget: number, maskedFraction = 1): BlockInfo {
  return { index, start, end, budget, maskedFraction };
}

export function moduleMeta(m: Partial<ModuleMetadata> & { dOut: number }): ModuleMetadata {
  return {
    u: m.u ?? new Float32Array(m.dOut),
    subspace: m.subspace ?? new Float32Array(0),
    k: m.k ?? 0,
    ubar: m.ubar ?? null,
    rank: m.rank ?? 0,
    dOut: m.dOut,
    gradRms: m.gradRms ?? [0, 0],
  };
}

export const PROBE = "blocks.3.attn.q_proj";

export function ctx(
  modules: Record<string, ModuleMetadata>,
  opts: { certificates?: RuleContext["certificates"]; defaults?: Record<string, ParamValue>; probes?: string[] } = {},
): RuleContext {
  const names = Object.keys(modules);
  return {
    metadata: { modules: new Map(Object.entries(modules)), defaultProbe: names[0], header: {} },
    probes: opts.probes ?? names,
    certificates: opts.certificates === undefined ? null : opts.certificates,
    defaults: opts.defaults ?? {},
  };
}

/** A context with one 2-d module: u = [1, 0], subspace = identity (k = 2), ubar = [[1, 0], [0, 2]] (r = 2). */
export function ctx2d(opts: Parameters<typeof ctx>[1] = {}): RuleContext {
  return ctx(
    {
      [PROBE]: moduleMeta({
        dOut: 2,
        u: Float32Array.from([1, 0]),
        subspace: Float32Array.from([1, 0, 0, 1]),
        k: 2,
        ubar: Float32Array.from([1, 0, 0, 2]),
        rank: 2,
      }),
    },
    opts,
  );
}
