/**
 * Seeded randomness for temperature > 0. LLaDA's add_gumbel_noise returns exp(l) / (-log u)^T and
 * takes its argmax; we take the argmax of the log of that, l - T * log(-log u), which is the same
 * argmax without overflowing exp for large logits.
 */

/** mulberry32 (32-bit state), combined two draws at a time into a float64 in (0, 1). */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  private next32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in the open interval (0, 1): never 0, so log(u) is finite. */
  uniform(): number {
    const hi = this.next32() >>> 5; // 27 bits
    const lo = this.next32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
}

/** Argmax over one logits row of l_j - T log(-log u_j) (Gumbel-max with temperature T); ties -> lowest id. */
export function gumbelArgmax(row: Float32Array, offset: number, vocab: number, temperature: number, rng: SeededRandom): number {
  let best = 0;
  let bestVal = -Infinity;
  for (let j = 0; j < vocab; j++) {
    const v = row[offset + j] - temperature * Math.log(-Math.log(rng.uniform()));
    if (v > bestVal) {
      bestVal = v;
      best = j;
    }
  }
  return best;
}
