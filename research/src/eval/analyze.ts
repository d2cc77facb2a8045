/**
 * From the accumulated runs to the evaluation's numbers: per (split, task, configuration) accuracy and
 * forwards per block, the fixed baseline at matched forwards (interpolated between the two
 * neighbouring N, with exact McNemar tests against both), stop-step statistics (fraction at the
 * earliest possible step, Spearman with the oracle step), D_t quantiles, Pareto fronts, and the
 * per-task choice of the default rule on the validation split.
 */
import type { ParamValue } from "../../../protocol/lsp";
import type { EvalConfig, Family } from "./configs";
import type { ConfigAcc, EvalRun, SplitTaskAcc } from "./run";
import { matchFixed, mcnemarExact, pairedCounts, paretoFront, quantiles, spearman, type FixedPoint } from "./stats";

export const DT_QUANTILES = [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1];

export interface ConfigSummary {
  id: string;
  family: Family;
  rule: string;
  params: Record<string, ParamValue>;
  polish: number;
  items: number;
  correct: number;
  accuracy: number;
  forwardsPerBlock: number;
  forwardsPerItem: number;
  stopFraction: number;
  /** Of blocks where a stop was possible, those stopped at exactly the earliest possible step (run-length rules). */
  atEarliestFraction: number | null;
  spearman: number | null;
  spearmanBlocks: number;
  matched: MatchedSummary | null;
  /** Per-item correctness, "1"/"0" in item order (for re-testing). */
  outcomes: string;
  /** Items whose output ids equal full's (null in summaries written before this field existed). */
  sameAsFull?: number;
}

export interface FixedNeighbour {
  id: string;
  n: number;
  forwardsPerBlock: number;
  accuracy: number;
  /** Discordant pairs: rule right & fixed wrong, fixed right & rule wrong; exact McNemar p. */
  ruleOnly: number;
  fixedOnly: number;
  p: number;
}

export interface MatchedSummary {
  polish: number;
  /** Fixed accuracy interpolated at the rule's forwards per block. */
  accuracy: number;
  weight: number;
  clamped: boolean;
  lo: FixedNeighbour;
  hi: FixedNeighbour;
  /** rule accuracy - interpolated fixed accuracy. */
  advantage: number;
}

export interface DtSummary {
  series: string;
  block: number;
  steps: number;
  defined: number;
  quantiles: number[];
  /** Fraction of defined D_t below 0.05 (the paper's delta). */
  below005: number;
}

export interface TaskSummary {
  items: number;
  full: ConfigSummary;
  oracle: ConfigSummary;
  configs: ConfigSummary[];
  fronts: Record<string, string[]>;
  dt: DtSummary[];
}

export interface Choice {
  task: string;
  /** null: no choice (keep bundle.json's stop). */
  stop: { rule: string; params: Record<string, ParamValue> } | null;
  config: string;
  /** Val numbers of the choice and of full. */
  val: { accuracy: number; forwardsPerBlock: number; fullAccuracy: number; fullForwardsPerBlock: number };
  reason: string;
}

export interface EvalSummary {
  bundle: string;
  provider: string;
  generatedAt: string;
  budget: number;
  numBlocks: number;
  blockLength: number;
  counts: number[];
  releasedAvailable: boolean;
  tolerance: number;
  splits: Record<string, Record<string, TaskSummary>>;
  choices: Record<string, Choice>;
  checks: EvalRun["checks"];
  cost: EvalRun["cost"];
}

function summarize(c: EvalConfig, a: ConfigAcc): Omit<ConfigSummary, "matched"> {
  const items = a.correct.length;
  const correct = a.correct.filter(Boolean).length;
  const fwd = a.forwards.reduce((x, y) => x + y, 0);
  return {
    id: c.id,
    family: c.family,
    rule: c.rule,
    params: c.params,
    polish: c.polish,
    items,
    correct,
    accuracy: items ? correct / items : 0,
    forwardsPerBlock: a.blocks ? fwd / a.blocks : 0,
    forwardsPerItem: items ? fwd / items : 0,
    stopFraction: a.blocks ? a.stops / a.blocks : 0,
    atEarliestFraction: c.earliest ? (a.earliestDefined ? a.atEarliest / a.earliestDefined : null) : null,
    spearman: spearman(a.stopSteps, a.oracleSteps),
    spearmanBlocks: a.stopSteps.length,
    outcomes: a.correct.map((x) => (x ? "1" : "0")).join(""),
    sameAsFull: (a.sameAsFull ?? []).filter(Boolean).length,
  };
}

function neighbour(rule: boolean[], fixed: { s: ConfigSummary; correct: boolean[] }): FixedNeighbour {
  const pc = pairedCounts(rule, fixed.correct);
  return {
    id: fixed.s.id,
    n: Number(fixed.s.params.n),
    forwardsPerBlock: fixed.s.forwardsPerBlock,
    accuracy: fixed.s.accuracy,
    ruleOnly: pc.onlyA,
    fixedOnly: pc.onlyB,
    p: mcnemarExact(pc.onlyA, pc.onlyB),
  };
}

export function summarizeTask(run: EvalRun, st: SplitTaskAcc): TaskSummary {
  const base = run.configs.filter((c) => st.configs.has(c.id)).map((c) => ({ c, s: summarize(c, st.configs.get(c.id)!), correct: st.configs.get(c.id)!.correct }));
  const fixedBy = new Map<number, { s: ConfigSummary; correct: boolean[] }[]>();
  for (const b of base) {
    if (b.c.family !== "fixed") continue;
    const list = fixedBy.get(b.c.polish) ?? [];
    list.push({ s: { ...b.s, matched: null }, correct: b.correct });
    fixedBy.set(b.c.polish, list);
  }
  const configs: ConfigSummary[] = base.map(({ c, s, correct }) => {
    const fixed = fixedBy.get(c.polish) ?? fixedBy.get(0);
    if (!fixed || c.family === "fixed" || c.family === "full") return { ...s, matched: null };
    const points: (FixedPoint & { k: number })[] = fixed.map((f, k) => ({ n: Number(f.s.params.n), forwardsPerBlock: f.s.forwardsPerBlock, accuracy: f.s.accuracy, k }));
    const m = matchFixed(points, s.forwardsPerBlock);
    const lo = fixed[(m.lo as (typeof points)[number]).k];
    const hi = fixed[(m.hi as (typeof points)[number]).k];
    return {
      ...s,
      matched: {
        polish: fixed[0].s.polish,
        accuracy: m.accuracy,
        weight: m.weight,
        clamped: m.clamped,
        lo: neighbour(correct, lo),
        hi: neighbour(correct, hi),
        advantage: s.accuracy - m.accuracy,
      },
    };
  });
  const fronts: Record<string, string[]> = {};
  for (const fam of new Set(configs.map((c) => c.family))) {
    fronts[fam] = paretoFront(configs.filter((c) => c.family === fam)).map((c) => c.id);
  }
  const dt: DtSummary[] = [];
  for (const [series, byBlock] of Object.entries(st.dt.values)) {
    byBlock.forEach((vals, block) => {
      const und = st.dt.undefinedSteps[series]?.[block] ?? 0;
      const limit = 0.05;
      dt.push({
        series,
        block,
        steps: vals.length + und,
        defined: vals.length,
        quantiles: quantiles(vals, DT_QUANTILES),
        below005: vals.length ? vals.filter((v) => v < limit).length / vals.length : NaN,
      });
    });
  }
  return {
    items: st.items,
    full: configs.find((c) => c.id === "full")!,
    oracle: configs.find((c) => c.id === "oracle")!,
    configs: configs.filter((c) => c.id !== "full" && c.id !== "oracle"),
    fronts,
    dt,
  };
}

/** Below this many val items solved by full, a cost-only choice is meaningless and none is made. */
export const MIN_FULL_CORRECT = 5;

/** Preference among equally cheap, equally accurate choices: EDIT rules carry certificates. */
const FAMILY_ORDER: Family[] = [
  "edit",
  "calibrated",
  "edit-released",
  "fixed",
  "confidence",
  "jot",
  "edit-cos",
  "composed",
  "eb-sampler",
  "klass",
  "less",
  "stable-confident",
  "sched",
];

/**
 * The default rule per task, on the validation split: among all configurations (every rule, tau,
 * delta, Omega, N, threshold) whose accuracy is at least full's minus `tolerance`, the one with the
 * fewest forwards per block; ties -> higher accuracy -> family order (EDIT first) -> sweep order.
 */
export function chooseDefault(task: string, t: TaskSummary, tolerance: number): Choice {
  if (t.full.correct < MIN_FULL_CORRECT) {
    // (Almost) nothing to preserve: every cost-only choice would "win" (fixed N = 1). Keep the bundle's rule.
    return {
      task,
      stop: null,
      config: "keep bundle.json",
      val: { accuracy: 0, forwardsPerBlock: t.full.forwardsPerBlock, fullAccuracy: 0, fullForwardsPerBlock: t.full.forwardsPerBlock },
      reason: `full solves ${t.full.correct} val item(s) (< ${MIN_FULL_CORRECT}): no accuracy to match, so no choice (keep bundle.json's stop)`,
    };
  }
  const floor = t.full.accuracy - tolerance - 1e-12;
  // The commit oracle reads full's output: a bound, never a rule to choose.
  const ok = t.configs.filter((c) => c.accuracy >= floor && c.family !== "calibrated" && c.family !== "commit-oracle");
  const rank = (c: ConfigSummary) => FAMILY_ORDER.indexOf(c.family);
  const best = [...ok].sort((a, b) => a.forwardsPerBlock - b.forwardsPerBlock || b.accuracy - a.accuracy || rank(a) - rank(b))[0];
  const val = (c: ConfigSummary) => ({ accuracy: c.accuracy, forwardsPerBlock: c.forwardsPerBlock, fullAccuracy: t.full.accuracy, fullForwardsPerBlock: t.full.forwardsPerBlock });
  if (!best) {
    return { task, stop: { rule: "full", params: {} }, config: "full", val: val(t.full), reason: `no configuration within ${tolerance} of full's val accuracy` };
  }
  return {
    task,
    stop: { rule: best.rule, params: best.params },
    config: best.id,
    val: val(best),
    reason: `fewest forwards per block among configurations with val accuracy >= full - ${tolerance}`,
  };
}

export function summarizeRun(run: EvalRun, tolerance: number, chooseOn: string): EvalSummary {
  const splits: EvalSummary["splits"] = {};
  for (const [split, tasks] of Object.entries(run.acc)) {
    splits[split] = {};
    for (const [task, st] of Object.entries(tasks)) splits[split][task] = summarizeTask(run, st);
  }
  const choices: Record<string, Choice> = {};
  for (const [task, t] of Object.entries(splits[chooseOn] ?? {})) choices[task] = chooseDefault(task, t, tolerance);
  return {
    bundle: run.bundle,
    provider: run.provider,
    generatedAt: new Date().toISOString(),
    budget: run.budget,
    numBlocks: run.numBlocks,
    blockLength: run.blockLength,
    counts: run.counts,
    releasedAvailable: run.released,
    tolerance,
    splits,
    choices,
    checks: run.checks,
    cost: run.cost,
  };
}

/** Combine summaries of runs on disjoint task sets (same bundle and settings) into one. */
export function mergeSummaries(parts: readonly EvalSummary[]): EvalSummary {
  if (parts.length === 0) throw new RangeError("mergeSummaries needs at least one summary");
  const [first] = parts;
  for (const p of parts) {
    if (p.bundle !== first.bundle || p.budget !== first.budget || p.tolerance !== first.tolerance) {
      throw new RangeError(`cannot merge eval summaries of different runs: ${p.bundle}/${p.budget}/${p.tolerance} vs ${first.bundle}/${first.budget}/${first.tolerance}`);
    }
  }
  const splits: EvalSummary["splits"] = {};
  const choices: EvalSummary["choices"] = {};
  for (const p of parts) {
    for (const [split, tasks] of Object.entries(p.splits)) {
      splits[split] ??= {};
      for (const [task, t] of Object.entries(tasks)) {
        if (splits[split][task]) throw new RangeError(`task ${task} (${split}) appears in more than one summary`);
        splits[split][task] = t;
      }
    }
    Object.assign(choices, p.choices);
  }
  // Recomputed from the merged val split, so a re-render applies the current choice rule.
  for (const [task, t] of Object.entries(splits.val ?? {})) choices[task] = chooseDefault(task, t, first.tolerance);
  const checks = new Map<string, EvalSummary["checks"][number]>();
  for (const c of parts.flatMap((p) => p.checks)) {
    const m = checks.get(c.config);
    if (!m) checks.set(c.config, { ...c, mismatches: [...c.mismatches] });
    else {
      m.compared += c.compared;
      m.identical += c.identical;
      m.mismatches.push(...c.mismatches);
    }
  }
  const cost = { forwardsRequested: 0, forwardsComputed: 0, scriptedRuns: 0, realRuns: 0, wallMs: 0 };
  for (const p of parts) {
    cost.forwardsRequested += p.cost.forwardsRequested;
    cost.forwardsComputed += p.cost.forwardsComputed;
    cost.scriptedRuns += p.cost.scriptedRuns;
    cost.realRuns += p.cost.realRuns;
    cost.wallMs = Math.max(cost.wallMs, p.cost.wallMs); // the parts run side by side
  }
  return { ...first, generatedAt: new Date().toISOString(), splits, choices, checks: [...checks.values()], cost };
}
