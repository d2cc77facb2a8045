/** Per-step token choice and confidence, and the "k most confident" selection (bundle contract). */

/** argmax of one logits row (float32 compare); ties -> lowest id. */
export function argmaxRow(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let bestVal = logits[offset];
  for (let j = 1; j < vocab; j++) {
    if (logits[offset + j] > bestVal) {
      bestVal = logits[offset + j];
      best = j;
    }
  }
  return best;
}

/** Softmax probability (float64) of `id` in one logits row. */
export function softmaxProb(logits: Float32Array, offset: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let j = 0; j < vocab; j++) if (logits[offset + j] > max) max = logits[offset + j];
  let sum = 0;
  for (let j = 0; j < vocab; j++) sum += Math.exp(logits[offset + j] - max);
  return Math.exp(logits[offset + id] - max) / sum;
}

/**
 * Indices into `positions` of the k most confident entries: confidence descending, ties -> lower
 * position first. Returned in that rank order.
 */
export function topKByConfidence(positions: readonly number[], confidence: Float64Array, k: number): number[] {
  const idx = positions.map((_, i) => i);
  idx.sort((a, b) => confidence[b] - confidence[a] || positions[a] - positions[b]);
  return idx.slice(0, Math.max(0, k));
}
