/**
 * Shared math of the stop rules (float64 throughout; inputs may be float32 model outputs).
 * Hot path: called once per forward on |S_t| rows of d_out floats, so every function works in place
 * on caller-owned typed arrays and allocates nothing.
 */
import type { CertificateFlags } from "../../../protocol/trace";

/** Any indexable numeric array (Float32Array activations, Float64Array scratch, number[]). */
export type Vec = { readonly length: number; readonly [i: number]: number };
export type MutVec = { length: number; [i: number]: number };

/** Euclidean norm of `dim` floats of `a` from `off`, accumulated in float64. */
export function norm(a: Vec, off: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) {
    const x = a[off + i];
    s += x * x;
  }
  return Math.sqrt(s);
}

/** Dot product of `dim` floats, float64 accumulation. */
export function dot(a: Vec, aOff: number, b: Vec, bOff: number, dim: number): number {
  let s = 0;
  for (let i = 0; i < dim; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

/**
 * Cosine similarity (Eq 5) of row `a[aOff .. aOff+dim)` with `b[bOff ..)`, float64 accumulation.
 * A zero vector has no direction: its cosine is defined as 0 (the reference does the same).
 * `bNorm` may be passed precomputed (the metadata vector u is fixed for the whole generation).
 */
export function cosine(a: Vec, aOff: number, b: Vec, bOff: number, dim: number, bNorm?: number): number {
  let ab = 0;
  let aa = 0;
  for (let i = 0; i < dim; i++) {
    const x = a[aOff + i];
    ab += x * b[bOff + i];
    aa += x * x;
  }
  const nb = bNorm ?? norm(b, bOff, dim);
  const den = Math.sqrt(aa) * nb;
  return den > 0 ? ab / den : 0;
}

/**
 * Softmax with temperature (Eq 6, Eq 25): out[i] = exp(x[i]/tau) / sum_j exp(x[j]/tau) for i < n,
 * computed as exp((x[i] - max)/tau) so large scores cannot overflow. Returns `out`.
 */
export function softmaxInto<T extends MutVec>(x: Vec, n: number, tau: number, out: T): T {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((x[i] - max) / tau);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) out[i] /= sum;
  return out;
}

/**
 * Matched-support renormalization (Eq 7): divide the first n entries by their sum, in place.
 * The caller gathers P(s) for s in I_t into `p` first. (Mathematically this equals a softmax over
 * I_t alone; we keep Eq 7's literal form so the PyTorch reference and this code round alike.)
 */
export function renormalizeInPlace<T extends MutVec>(p: T, n: number): T {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i];
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

/**
 * KL(p || q) = sum_i p_i log(p_i / q_i) over the first n entries (Eq 8, natural log).
 * Terms with p_i = 0 contribute 0; p_i > 0 with q_i = 0 gives +Infinity.
 */
export function klDivergence(p: Vec, q: Vec, n: number): number {
  return klDivergenceAt(p, 0, q, 0, n);
}

/** KL(p || q) over p[pOff .. pOff+n) and q[qOff .. qOff+n) (no subarray views on the hot path). */
export function klDivergenceAt(p: Vec, pOff: number, q: Vec, qOff: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const pi = p[pOff + i];
    if (pi > 0) s += pi * Math.log(pi / q[qOff + i]);
  }
  return s;
}

/** Total variation TV(p, q) = 1/2 sum_i |p_i - q_i| (App. C.1). */
export function totalVariation(p: Vec, q: Vec, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(p[i] - q[i]);
  return s / 2;
}

/** Top-2 margin m = p_(1) - p_(2) of the first n entries (App. C.3); NaN when n < 2. */
export function top2Margin(p: Vec, n: number): number {
  if (n < 2) return NaN;
  let a = -Infinity; // largest
  let b = -Infinity; // second largest (ties count twice: margin 0)
  for (let i = 0; i < n; i++) {
    const x = p[i];
    if (x > a) {
      b = a;
      a = x;
    } else if (x > b) b = x;
  }
  return a - b;
}

/** Pinsker: TV(p, q) <= sqrt(KL(p||q) / 2). */
export function pinskerTv(kl: number): number {
  return Math.sqrt(kl / 2);
}

/** Lemma 1 (Eq 17): Omega steps with D <= delta move P~ by at most Omega * sqrt(delta/2) in TV. */
export function runLengthTvBound(delta: number, omega: number): number {
  return omega * pinskerTv(delta);
}

/** Theorem 4 (Eq 19): the whole future tail moves by at most sqrt(delta/2) / (1 - alpha); +inf for alpha >= 1. */
export function tailTvBound(delta: number, alpha: number): number {
  return alpha < 1 ? pinskerTv(delta) / (1 - alpha) : Infinity;
}

/** Theorem 2 (Eq 18): Omega sqrt(delta/2) < m/2. */
export function thm2Holds(margin: number, delta: number, omega: number): boolean {
  return runLengthTvBound(delta, omega) < margin / 2;
}

/** Theorem 4 (Eq 20): Omega sqrt(delta/2) + sqrt(delta/2)/(1-alpha) < m/2: a certified stop. */
export function thm4Holds(margin: number, delta: number, omega: number, alphaHat: number): boolean {
  return runLengthTvBound(delta, omega) + tailTvBound(delta, alphaHat) < margin / 2;
}

/** Corollary 6 (Eq 24): Omega sqrt(delta/2) + sqrt(delta/2)/(1-alphaHat) <= q/2 (no margin involved). */
export function cor6Holds(delta: number, omega: number, alphaHat: number, q: number): boolean {
  return runLengthTvBound(delta, omega) + tailTvBound(delta, alphaHat) <= q / 2;
}

/**
 * The certificate flags recorded at an EDIT stop. Without the bundle's constants (null) Theorem 4
 * and Corollary 6 cannot be evaluated: they read false, and alphaHat / q are recorded as 0.
 */
export function certify(
  margin: number,
  delta: number,
  omega: number,
  constants: { alphaHat: number; q: number } | null,
): CertificateFlags {
  const m = Number.isFinite(margin) ? margin : 0;
  return {
    thm2: Number.isFinite(margin) && thm2Holds(margin, delta, omega),
    thm4: constants !== null && Number.isFinite(margin) && thm4Holds(margin, delta, omega, constants.alphaHat),
    cor6: constants !== null && cor6Holds(delta, omega, constants.alphaHat, constants.q),
    margin: m,
    delta,
    omega,
    alphaHat: constants?.alphaHat ?? 0,
    q: constants?.q ?? 0,
  };
}

/**
 * Top-2 softmax probabilities of one logits row (float64, max-subtracted): [p1, p2].
 * Used by Jot's ratio r = p1 / (p2 + eps). Writes into `out` (length >= 2).
 */
export function top2Probs<T extends MutVec>(logits: Vec, off: number, vocab: number, out: T): T {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const x = logits[off + i];
    if (x > a) {
      b = a;
      a = x;
    } else if (x > b) b = x;
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[off + i] - a);
  out[0] = 1 / sum;
  out[1] = vocab > 1 ? Math.exp(b - a) / sum : 0;
  return out;
}
