/**
 * Statistics of the honest evaluation: the exact McNemar test on paired correct/incorrect outcomes,
 * Spearman's rank correlation, and the fixed-N baseline interpolated to a rule's forwards per block.
 */

/** Discordant-pair counts of two classifiers on the same items: b = only A right, c = only B right. */
export interface PairedCounts {
  both: number;
  onlyA: number;
  onlyB: number;
  neither: number;
}

export function pairedCounts(a: readonly boolean[], b: readonly boolean[]): PairedCounts {
  if (a.length !== b.length) throw new RangeError(`paired outcomes need equal lengths, got ${a.length} and ${b.length}`);
  const out = { both: 0, onlyA: 0, onlyB: 0, neither: 0 };
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) out.both++;
    else if (a[i]) out.onlyA++;
    else if (b[i]) out.onlyB++;
    else out.neither++;
  }
  return out;
}

/** log C(n, k) via log-gamma-free summation (n is at most a few thousand items here). */
function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

/**
 * Exact two-sided McNemar p-value: under H0 the b discordant pairs won by A among n = b + c are
 * Binomial(n, 1/2); p = min(1, 2 * P[X <= min(b, c)]). p = 1 when there are no discordant pairs.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return Math.min(1, 2 * tail);
}

/** Ranks 1..n with ties given their average rank. */
export function averageRanks(x: readonly number[]): number[] {
  const order = x.map((v, i) => ({ v, i })).sort((p, q) => p.v - q.v);
  const ranks = new Array<number>(x.length);
  for (let s = 0; s < order.length; ) {
    let e = s;
    while (e + 1 < order.length && order[e + 1].v === order[s].v) e++;
    const r = (s + e) / 2 + 1;
    for (let j = s; j <= e; j++) ranks[order[j].i] = r;
    s = e + 1;
  }
  return ranks;
}

/** Pearson correlation; null when either side is constant or there are fewer than 2 points. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n !== y.length) throw new RangeError(`correlation needs equal lengths, got ${n} and ${y.length}`);
  if (n < 2) return null;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

/** Spearman's rho = Pearson on average ranks (ties handled); null when a side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  return pearson(averageRanks(x), averageRanks(y));
}

/** One fixed-N run: forwards per generated block and accuracy. */
export interface FixedPoint {
  n: number;
  forwardsPerBlock: number;
  accuracy: number;
}

export interface MatchedFixed {
  /** The fixed runs at or below / at or above the target forwards (equal when the target hits one). */
  lo: FixedPoint;
  hi: FixedPoint;
  /** Weight of `hi` in the linear interpolation (0 = all lo). */
  weight: number;
  /** Fixed accuracy linearly interpolated at the target forwards per block. */
  accuracy: number;
  /** The one closest in forwards (ties: the cheaper). */
  nearest: FixedPoint;
  /** True when the target lies outside the fixed runs' range (then lo = hi = the end point). */
  clamped: boolean;
}

/**
 * The fixed baseline at a rule's average forwards per block: linear interpolation between the two
 * fixed-N runs whose forwards bracket the target (forwards per block increase with N).
 */
export function matchFixed(points: readonly FixedPoint[], target: number): MatchedFixed {
  if (points.length === 0) throw new RangeError("matchFixed needs at least one fixed-N point");
  const pts = [...points].sort((a, b) => a.forwardsPerBlock - b.forwardsPerBlock || a.n - b.n);
  let nearest = pts[0];
  for (const p of pts) if (Math.abs(p.forwardsPerBlock - target) < Math.abs(nearest.forwardsPerBlock - target)) nearest = p;
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (target <= first.forwardsPerBlock) return { lo: first, hi: first, weight: 0, accuracy: first.accuracy, nearest, clamped: target < first.forwardsPerBlock };
  if (target >= last.forwardsPerBlock) return { lo: last, hi: last, weight: 0, accuracy: last.accuracy, nearest, clamped: target > last.forwardsPerBlock };
  let i = 0;
  while (pts[i + 1].forwardsPerBlock < target) i++;
  const lo = pts[i];
  const hi = pts[i + 1];
  if (hi.forwardsPerBlock === target) return { lo: hi, hi, weight: 0, accuracy: hi.accuracy, nearest, clamped: false };
  const weight = (target - lo.forwardsPerBlock) / (hi.forwardsPerBlock - lo.forwardsPerBlock);
  return { lo, hi, weight, accuracy: lo.accuracy + weight * (hi.accuracy - lo.accuracy), nearest, clamped: false };
}

/** Quantiles by linear interpolation between order statistics (numpy's default "linear"). */
export function quantiles(values: readonly number[], qs: readonly number[]): number[] {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return qs.map(() => NaN);
  return qs.map((q) => {
    const h = (s.length - 1) * q;
    const lo = Math.floor(h);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo] + (h - lo) * (s[hi] - s[lo]);
  });
}

/**
 * Points not dominated by another (fewer or equal forwards and higher or equal accuracy, one strictly),
 * sorted by forwards: the Pareto front of accuracy vs cost.
 */
export function paretoFront<T extends { forwardsPerBlock: number; accuracy: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.forwardsPerBlock - b.forwardsPerBlock || b.accuracy - a.accuracy);
  const front: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.accuracy > best) {
      front.push(p);
      best = p.accuracy;
    }
  }
  return front;
}

/**
 * 95 % Wilson score interval for k successes out of n (z = 1.959964), as training/edit_dllm/report.py:
 * centre (k + z^2/2) / (n + z^2), half-width z sqrt(k (n - k) / n + z^2/4) / (n + z^2). [0, 1] when n = 0.
 */
export function wilson(k: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const z2 = z * z;
  const centre = (k + z2 / 2) / (n + z2);
  const half = (z * Math.sqrt((k * (n - k)) / n + z2 / 4)) / (n + z2);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
