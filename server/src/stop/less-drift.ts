/**
 * LESS's drift statistic and the top-K summary it compares (less_core.py `coarse_topk_js`, DRIFT_TOPK),
 * shared by the rule's LLaDA form (less.ts) and its Dream form (less-dream.ts).
 */
const JS_EPS = 1e-12;

/** One side's contribution p (log(p + eps) - log(m + eps)) to a KL against the mixture m. */
function klTerm(p: number, m: number): number {
  return p * (Math.log(p + JS_EPS) - Math.log(m + JS_EPS));
}

/**
 * less_core.py `coarse_topk_js` for one position: JS (nats) between two top-K summaries, each its own
 * (ids, probs) plus an "other" bucket with the untracked mass; ids present in only one summary carry
 * 0 on the other side.
 */
export function coarseTopKJs(ids: ArrayLike<number>, probs: ArrayLike<number>, prevIds: ArrayLike<number>, prevProbs: ArrayLike<number>): number {
  let kl = 0;
  let pSum = 0;
  let qSum = 0;
  for (let a = 0; a < ids.length; a++) {
    const p = probs[a];
    pSum += p;
    let q = 0;
    for (let b = 0; b < prevIds.length; b++) if (prevIds[b] === ids[a]) q += prevProbs[b];
    const m = 0.5 * (p + q);
    kl += klTerm(p, m) + klTerm(q, m);
  }
  for (let b = 0; b < prevIds.length; b++) {
    const q = prevProbs[b];
    qSum += q;
    let inCur = false;
    for (let a = 0; a < ids.length; a++) if (ids[a] === prevIds[b]) inCur = true;
    if (!inCur) kl += klTerm(q, 0.5 * q); // p = 0 on this id
  }
  const pO = Math.max(0, 1 - pSum);
  const qO = Math.max(0, 1 - qSum);
  const mO = 0.5 * (pO + qO);
  kl += klTerm(pO, mO) + klTerm(qO, mO);
  return Math.max(0, 0.5 * kl);
}

/** The K largest entries of p[off, off + n) in descending order (ties: lower id first), into ids/probs. */
export function topK(p: Float64Array, n: number, ids: Int32Array, probs: Float64Array): void {
  const k = ids.length;
  ids.fill(-1);
  probs.fill(-1);
  for (let v = 0; v < n; v++) {
    const x = p[v];
    if (x <= probs[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && probs[j - 1] < x) {
      probs[j] = probs[j - 1];
      ids[j] = ids[j - 1];
      j--;
    }
    probs[j] = x;
    ids[j] = v;
  }
  for (let j = 0; j < k; j++) if (ids[j] < 0) probs[j] = 0; // vocabulary smaller than K
}
