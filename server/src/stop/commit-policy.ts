/**
 * The learned commit policy's weights (bundle.json `commit_policies`: name -> JSON file, trained by
 * training/edit_dllm/commit_policy.py) and its forward pass: a small MLP over standardised per-token
 * features (commit-features.ts) whose sigmoid output is P(the current argmax is the final token).
 */
import { FEATURE_NAMES, type FeatureName } from "./commit-features";

export const COMMIT_POLICY_FORMAT = "edit-dllm-commit-policy/1";

/** One MLP over standardised features. */
export interface PolicyNetwork {
  /** The features the network reads, in its input order (a subset of FEATURE_NAMES). */
  features: FeatureName[];
  mean: number[];
  std: number[];
  /** Dense layers, w row-major [out][in]; ReLU between layers, sigmoid after the last (one output). */
  layers: { w: number[][]; b: number[] }[];
}

export interface CommitPolicyWeights extends PolicyNetwork {
  format: typeof COMMIT_POLICY_FORMAT;
  /**
   * The end-of-answer predictor: the same kind of network, trained only on the block's first eos
   * position (where the answer would end), P(the answer ends there). Absent in older files.
   */
  end_of_answer?: PolicyNetwork;
}

/** Checks the shape of a parsed policy file; returns a message naming what is wrong, or null. */
export function commitPolicyProblem(x: unknown): string | null {
  const o = x as Partial<CommitPolicyWeights> | null;
  if (!o || typeof o !== "object") return "a JSON object";
  if (o.format !== COMMIT_POLICY_FORMAT) return `format "${COMMIT_POLICY_FORMAT}"`;
  const problem = networkProblem(o);
  if (problem) return problem;
  if (o.end_of_answer !== undefined) {
    const eoa = networkProblem(o.end_of_answer as Partial<PolicyNetwork> | null);
    if (eoa) return `end_of_answer: ${eoa}`;
  }
  return null;
}

function networkProblem(o: Partial<PolicyNetwork> | null): string | null {
  if (!o || typeof o !== "object") return "a JSON object";
  if (!Array.isArray(o.features) || o.features.some((f) => !(FEATURE_NAMES as readonly string[]).includes(f))) {
    return `features: a list of ${FEATURE_NAMES.join(", ")}`;
  }
  const n = o.features.length;
  if (!Array.isArray(o.mean) || o.mean.length !== n || !Array.isArray(o.std) || o.std.length !== n) return `mean and std of length ${n}`;
  if (!Array.isArray(o.layers) || o.layers.length === 0) return "layers: a non-empty list";
  let width = n;
  for (const [k, l] of o.layers.entries()) {
    if (!Array.isArray(l.w) || !Array.isArray(l.b) || l.w.length !== l.b.length || l.w.some((r) => !Array.isArray(r) || r.length !== width)) {
      return `layers[${k}]: w [out][${width}] and b [out]`;
    }
    width = l.b.length;
  }
  if (width !== 1) return "a last layer with one output";
  return null;
}

/** P(final) for one full feature row (FEATURE_NAMES order). */
export function commitPolicyProb(policy: PolicyNetwork, row: ArrayLike<number>, index: ReadonlyMap<FeatureName, number>): number {
  let x = policy.features.map((f, i) => (row[index.get(f)!] - policy.mean[i]) / (policy.std[i] || 1));
  policy.layers.forEach((l, k) => {
    const last = k === policy.layers.length - 1;
    x = l.w.map((r, j) => {
      let z = l.b[j];
      for (let i = 0; i < r.length; i++) z += r[i] * x[i];
      return last ? z : Math.max(0, z);
    });
  });
  return 1 / (1 + Math.exp(-x[0]));
}
