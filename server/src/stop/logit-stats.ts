/**
 * Per-position statistics of one logits row that the peer rules (LESS, KLASS, EB-sampler,
 * stable-and-confident, SchED) read: the float64 softmax, Shannon entropy, the top-2 logit margin,
 * and the divergences between two steps' distributions. All work in place on caller-owned arrays.
 */
import type { MutVec, Vec } from "./math";
import type { StepView } from "./rule";
import { rowOffset } from "./rows";

/** out[i] = softmax(logits[off .. off+vocab)) in float64 (max-subtracted). Returns out. */
export function softmaxRow<T extends MutVec>(logits: Vec, off: number, vocab: number, out: T, outOff = 0): T {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) {
    const e = Math.exp(logits[off + i] - max);
    out[outOff + i] = e;
    sum += e;
  }
  for (let i = 0; i < vocab; i++) out[outOff + i] /= sum;
  return out;
}

/** Shannon entropy (nats) of the softmax of one logits row: log Z - sum p_i z_i, float64, max-subtracted. */
export function rowEntropy(logits: Vec, off: number, vocab: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[off + i] > max) max = logits[off + i];
  let sum = 0;
  let weighted = 0;
  for (let i = 0; i < vocab; i++) {
    const z = logits[off + i] - max;
    const e = Math.exp(z);
    sum += e;
    weighted += e * z;
  }
  return Math.log(sum) - weighted / sum;
}

/** Top-1 minus top-2 raw logit (SchED's g_{t,i}); ties give 0, a one-entry row gives +inf. */
export function logitMargin(logits: Vec, off: number, vocab: number): number {
  let a = -Infinity;
  let b = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const x = logits[off + i];
    if (x > a) {
      b = a;
      a = x;
    } else if (x > b) b = x;
  }
  return a - b;
}

/** Index of the largest entry of p[off .. off+n) (ties: lowest index, as the sampler's argmax). */
export function argmaxAt(p: Vec, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (p[off + i] > p[off + best]) best = i;
  return best;
}

/**
 * KL(p || q) over n entries with KLASS's epsilon: sum p_i (log(p_i + eps) - log(q_i + eps)).
 * (The eps keeps a q_i = 0 finite, as the reference code does.)
 */
export function klEps(p: Vec, pOff: number, q: Vec, qOff: number, n: number, eps: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const pi = p[pOff + i];
    if (pi > 0) s += pi * (Math.log(pi + eps) - Math.log(q[qOff + i] + eps));
  }
  return s;
}

/**
 * Jensen-Shannon divergence (nats) of p and q restricted to p's top-K entries plus one "rest" bucket
 * holding the remaining mass of each, so both sides are proper distributions over K + 1 outcomes:
 * JS = 1/2 KL(p'||m) + 1/2 KL(q'||m), m = (p' + q')/2; in [0, ln 2]. `idx` is scratch of length >= K.
 */
export function topKJensenShannon(p: Vec, pOff: number, q: Vec, qOff: number, n: number, k: number, idx: Int32Array): number {
  const K = Math.min(k, n);
  // Top-K of p by partial selection (K is small): insertion into a sorted list of indices.
  let filled = 0;
  for (let i = 0; i < n; i++) {
    const v = p[pOff + i];
    if (filled < K) {
      let j = filled++;
      while (j > 0 && p[pOff + idx[j - 1]] < v) {
        idx[j] = idx[j - 1];
        j--;
      }
      idx[j] = i;
    } else if (v > p[pOff + idx[K - 1]]) {
      let j = K - 1;
      while (j > 0 && p[pOff + idx[j - 1]] < v) {
        idx[j] = idx[j - 1];
        j--;
      }
      idx[j] = i;
    }
  }
  let js = 0;
  let restP = 1;
  let restQ = 1;
  const term = (a: number, b: number) => {
    const m = (a + b) / 2;
    let t = 0;
    if (a > 0) t += 0.5 * a * Math.log(a / m);
    if (b > 0) t += 0.5 * b * Math.log(b / m);
    return t;
  };
  for (let j = 0; j < K; j++) {
    const a = p[pOff + idx[j]];
    const b = q[qOff + idx[j]];
    restP -= a;
    restQ -= b;
    js += term(a, b);
  }
  js += term(Math.max(0, restP), Math.max(0, restQ));
  return js;
}

/** Mean top-2 logit margin over the step's masked positions (SchED's and Prophet's statistic); NaN when none is masked. */
export function meanMaskedLogitMargin(view: StepView): number {
  let sum = 0;
  for (const pos of view.masked) sum += logitMargin(view.logits, rowOffset(view, pos, view.vocab), view.vocab);
  return view.masked.length ? sum / view.masked.length : NaN;
}
