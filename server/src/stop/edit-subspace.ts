/**
 * Subspace EDIT (App. E): EDIT with the subspace cosine of Eq 31,
 *   Sim_s = ||U^T f_s||_2 / ||f_s||_2, U = the bundle's `<m>.subspace` [d_out, k] (orthonormal columns),
 * and everything else (Eq 6-8, counter, certificates: Prop. 12) exactly as in edit.ts.
 * A zero activation row has Sim 0, as in the cosine.
 */
import type { ModuleMetadata } from "./context";
import type { RuleDefinition } from "./definition";
import { EDIT_PARAMS, EditRule, resolveModule, type SimilarityKernel } from "./edit";
import { StopRuleContextError } from "./errors";
import { dot, norm } from "./math";
import { parseParams } from "./params";

/** Columns of a row-major [dim, k] matrix as rows of a [k, dim] copy (float32 values kept exactly), so
 * each projection is one contiguous dot product. */
export function transposeColumns(u: Float32Array, dim: number, k: number): Float32Array {
  const t = new Float32Array(dim * k);
  for (let i = 0; i < dim; i++) for (let j = 0; j < k; j++) t[j * dim + i] = u[i * k + j];
  return t;
}

/** g = U^T f (float64) for U given transposed, [k, dim] (see transposeColumns); writes `g`, returns ||f||. */
export function projectRow(data: Float32Array, off: number, uT: Float32Array, dim: number, k: number, g: Float64Array): number {
  for (let j = 0; j < k; j++) g[j] = dot(data, off, uT, j * dim, dim);
  return norm(data, off, dim);
}

/** Eq 31, subspace cosine. */
export function subspaceCosineKernel(module: string, meta: ModuleMetadata): SimilarityKernel {
  const { k, dOut: dim } = meta;
  const uT = transposeColumns(meta.subspace, dim, k);
  const g = new Float64Array(k);
  return {
    module,
    dim,
    sim(data, off) {
      const fNorm = projectRow(data, off, uT, dim, k, g);
      let gg = 0;
      for (let j = 0; j < k; j++) gg += g[j] * g[j];
      return fNorm > 0 ? Math.sqrt(gg) / fNorm : 0;
    },
  };
}

/** The module's subspace, checked: k >= 1 columns of length d_out. */
export function requireSubspace(rule: string, name: string, meta: ModuleMetadata): void {
  if (meta.k < 1 || meta.subspace.length !== meta.dOut * meta.k) {
    throw new StopRuleContextError(rule, `edit-metadata tensor "${name}.subspace"`, `float32 [${meta.dOut}, k] with k >= 1`);
  }
}

export const editSubspaceRule: RuleDefinition = {
  name: "edit-subspace",
  role: "stop",
  summary: "Subspace EDIT (App. E): EDIT with Sim_s = ||U^T f_s|| / ||f_s|| for the metadata's top-k subspace U",
  params: EDIT_PARAMS,
  create(raw, ctx) {
    const p = parseParams("edit-subspace", EDIT_PARAMS, raw);
    const { name, meta } = resolveModule("edit-subspace", ctx, p.probe);
    requireSubspace("edit-subspace", name, meta);
    return new EditRule("edit-subspace", p, subspaceCosineKernel(name, meta), ctx.certificates);
  },
};
