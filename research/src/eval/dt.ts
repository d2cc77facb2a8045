/**
 * D_t of the paper's rule recomputed offline from a recorded trajectory (per step: S_t and Sim_s),
 * at any block temperature tau, plus Alg. 1's stop step replayed on a D_t series and the earliest
 * stop step the schedule allows. Exact for EDIT: before its stop the rule never changes the
 * trajectory, so the full-budget run's S_t and Sim_s are the ones every (tau, delta, Omega) sees.
 */
import { klDivergence, renormalizeInPlace, softmaxInto } from "../../../server/src/public";

export interface RecordedStep {
  /** S_t (absolute positions, ascending). */
  visible: readonly number[];
  /** Sim_s aligned with `visible` (Eq 5). */
  sims: readonly number[];
}

/**
 * Eq 6-8 at temperature tau: P = softmax(Sim / tau) over S_t, matched support I_t = S_{t-1} ∩ S_t,
 * renormalized on I_t for both steps (Eq 7), D_t = KL(P~(t) || P~(t-1)); null when |I_t| < 2 or at
 * the block's first step. Same operation order as EditRule so the numbers agree to the last bit.
 */
export function recomputeKl(steps: readonly RecordedStep[], tau: number): (number | null)[] {
  const out: (number | null)[] = [];
  let prev: Map<number, number> | null = null;
  for (const s of steps) {
    const n = s.visible.length;
    const p = softmaxInto(s.sims, n, tau, new Float64Array(n));
    const cur = new Map<number, number>();
    for (let i = 0; i < n; i++) cur.set(s.visible[i], p[i]);
    let d: number | null = null;
    if (prev) {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < n; i++) {
        const q = prev.get(s.visible[i]);
        if (q !== undefined) {
          a.push(p[i]);
          b.push(q);
        }
      }
      if (a.length >= 2) {
        renormalizeInPlace(a, a.length);
        renormalizeInPlace(b, b.length);
        d = klDivergence(a, b, a.length);
      }
    }
    out.push(d);
    prev = cur;
  }
  return out;
}

/**
 * Alg. 1 on a D_t series (step t = index + 1): c <- c + 1 when D_t < delta else 0 (null = unstable);
 * the stop is the first t with c >= Omega and t + polish < budget (RunLengthGate's condition).
 */
export function runLengthStop(kls: readonly (number | null)[], delta: number, omega: number, budget: number, polish: number): number | null {
  let c = 0;
  for (let i = 0; i < kls.length; i++) {
    const d = kls[i];
    const t = i + 1;
    c = d !== null && d < delta ? c + 1 : 0;
    if (c >= omega && t + polish < budget) return t;
  }
  return null;
}

/**
 * The first step whose D_t can be defined from the schedule alone: block positions start masked, so
 * |S_t| = commits of steps 1..t-1 and |I_t| = |S_{t-1}|; D_t needs |I_t| >= minMatched (2 for the
 * paper's rule, 1 for the released per-token rule). Null when it never is.
 */
export function firstDefinedStep(counts: readonly number[], minMatched: number): number | null {
  let committedBeforePrev = 0; // |S_{t-1}| = commits of steps 1..t-2
  for (let t = 2; t <= counts.length; t++) {
    committedBeforePrev += t >= 3 ? counts[t - 3] : 0;
    if (committedBeforePrev >= minMatched) return t;
  }
  return null;
}

/**
 * Earliest possible stop step of a run-length rule: Omega + (first defined step) - 1, when it still
 * saves forwards (t + polish < budget); null otherwise.
 */
export function earliestStopStep(counts: readonly number[], minMatched: number, omega: number, polish: number): number | null {
  const first = firstDefinedStep(counts, minMatched);
  if (first === null) return null;
  const t = omega + first - 1;
  return t + polish < counts.length ? t : null;
}
