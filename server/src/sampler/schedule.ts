/**
 * Per-step commit counts within one block (bundle contract, "Sampler semantics").
 * `uniform` is LLaDA's get_num_transfer_tokens; `gaussian` puts more commits in the middle steps.
 */
import type { ScheduleName } from "../bundle/bundle-json";

/** base = L // T, the first L % T steps get one more. */
export function uniformCounts(blockLength: number, budget: number): number[] {
  const base = Math.floor(blockLength / budget);
  const extra = blockLength % budget;
  return Array.from({ length: budget }, (_, i) => base + (i < extra ? 1 : 0));
}

/**
 * w_i = exp(-(i - (T-1)/2)^2 / (2 (T/4)^2)); counts = floor(L w_i / sum w); the remainder goes one
 * each to the largest fractional parts, ties to the earlier step.
 */
export function gaussianCounts(blockLength: number, budget: number): number[] {
  const centre = (budget - 1) / 2;
  const sigma = budget / 4;
  const w = Array.from({ length: budget }, (_, i) => Math.exp(-((i - centre) ** 2) / (2 * sigma * sigma)));
  let sum = 0;
  for (const x of w) sum += x;
  const exact = w.map((x) => (blockLength * x) / sum);
  const counts = exact.map(Math.floor);
  let remainder = blockLength - counts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ frac: x - Math.floor(x), i }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (remainder <= 0) break;
    counts[i] += 1;
    remainder -= 1;
  }
  return counts;
}

export function transferCounts(schedule: ScheduleName, blockLength: number, budget: number): number[] {
  return schedule === "gaussian" ? gaussianCounts(blockLength, budget) : uniformCounts(blockLength, budget);
}
