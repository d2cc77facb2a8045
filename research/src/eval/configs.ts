/**
 * The evaluated rule configurations: each rule's main parameter swept (edit: tau, delta, Omega;
 * edit-released: delta; fixed: N; confidence: threshold; jot: tauMax), plus the bundle's calibrated
 * rule. Stop-step rules are simulated exactly (explore.ts); commit rules run for real.
 */
import type { ParamValue } from "../../../protocol/lsp";
import { COMMIT_ORACLE_SPEC } from "./commit-oracle";
import { earliestStopStep, runLengthStop } from "./dt";
import type { BlockTrajectory, StopPolicy } from "./explore";

export type Family =
  | "full"
  | "oracle"
  | "fixed"
  | "edit"
  | "edit-released"
  | "confidence"
  | "jot"
  | "calibrated"
  // issue 14: the newer peers, EDIT's per-token signal, composed policies and the commit-rule oracle
  | "less"
  | "klass"
  | "eb-sampler"
  | "stable-confident"
  | "sched"
  | "edit-cos"
  | "composed"
  | "commit-oracle"
  // issue 21: the peers' earlier union variants, the newest peers and the learned commit policy
  | "klass-union"
  | "less-union"
  | "eb-sampler-union"
  | "prophet"
  | "wino"
  | "credit-decoding"
  | "dus"
  | "learned"
  | "learned-no-edit"
  | "learned-no-end";

/** Families that run through the engine with a rule spec from the registry (no simulation). */
export const PEER_FAMILIES: readonly Family[] = [
  "less",
  "klass",
  "eb-sampler",
  "stable-confident",
  "sched",
  "edit-cos",
  "composed",
  "klass-union",
  "less-union",
  "eb-sampler-union",
  "prophet",
  "wino",
  "credit-decoding",
  "dus",
  "learned",
  "learned-no-edit",
  "learned-no-end",
];

/** One engine-run configuration of the peer families: a registry spec (maybe composed) and its params. */
export interface PeerConfig {
  family: Family;
  rule: string;
  params: Record<string, ParamValue>;
}

export interface EvalConfig {
  id: string;
  family: Family;
  /** Rule spec and params as bundle.json / generate take them. */
  rule: string;
  params: Record<string, ParamValue>;
  polish: number;
  /** Simulated from trajectories (stop-step rules) or run through the engine (commit rules). */
  policy: StopPolicy | null;
  /** Earliest possible stop step of block b from the schedule (run-length rules), else null. */
  earliest: ((blockIndex: number) => number | null) | null;
}

export interface SweepGrid {
  taus: number[];
  deltas: number[];
  omegas: number[];
  releasedDeltas: number[];
  confidence: number[];
  jotTauMax: number[];
  fixedPolish: number[];
  /** The newer peers, edit-cos and composed policies (each runs through the engine). */
  peers?: PeerConfig[];
  /** Run the commit-rule oracle (one engine run per item, target = full's output). */
  commitOracle?: boolean;
}

export const DEFAULT_GRID: SweepGrid = {
  taus: [1, 0.3, 0.1, 0.03],
  deltas: [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.05, 0.25],
  omegas: [1, 2, 3, 4, 6, 8, 10, 12],
  releasedDeltas: [1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5],
  confidence: [0.7, 0.9, 0.97],
  jotTauMax: [3, 10, 30],
  fixedPolish: [0, 2],
  peers: defaultPeers(),
  commitOracle: true,
};

/**
 * The peers' sweep: each rule at its published (or documented) defaults plus its main knobs, the
 * stop rules alone and on top of the best-known commit rules, and EDIT's parts on top of commit rules:
 * its block stop ("edit+X", calibrated delta/Omega from bundle.json) and its per-token signal ("X+edit-cos").
 */
export function defaultPeers(): PeerConfig[] {
  const P = (family: Family, rule: string, params: Record<string, ParamValue> = {}): PeerConfig => ({ family, rule, params });
  const out: PeerConfig[] = [
    ...[0.01, 0.1, 0.3, 1, 3].map((gamma) => P("eb-sampler", "eb-sampler", { gamma })),
    P("klass", "klass"),
    P("klass", "klass", { confThreshold: 0.7 }),
    P("klass", "klass", { klThreshold: 0.1, history: 1 }),
    P("klass", "klass", { confThreshold: 0.5, klThreshold: 0.1, history: 1 }),
    P("less", "less"),
    P("less", "less", { confThreshold: 0.7 }),
    P("less", "less", { persist: 1, jsThreshold: 0.05 }),
    P("less", "less", { confThreshold: 0.5, persist: 1, jsThreshold: 0.05 }),
    ...[0.005, 0.02, 0.05, 0.1, 0.2].map((entropy) => P("stable-confident", "stable-confident", { entropy })),
    P("stable-confident", "stable-confident", { entropy: 0.05, stability: 2 }),
    // Logit margins of this model are large (a first probe stopped every block at step 1 with tauHigh 6).
    P("sched", "sched"),
    ...[15, 20, 30].map((tauHigh) => P("sched", "sched", { tauHigh, tauLow: 5 })),
    P("sched", "sched", { schedule: "linear", tauHigh: 20, tauLow: 5 }),
    P("sched", "sched", { schedule: "exp", tauHigh: 20, tauLow: 5 }),
    P("edit-cos", "edit-cos"),
    P("edit-cos", "edit-cos", { cosDelta: 1e-3, cosOmega: 1 }),
    P("edit-cos", "edit-cos", { cosDelta: 1e-2, cosOmega: 1 }),
  ];
  // Composed policies: a stop rule on top of a commit rule, and two commit rules together.
  const commits: [string, Record<string, ParamValue>][] = [
    ["eb-sampler", { gamma: 0.3 }],
    ["eb-sampler", { gamma: 1 }],
    ["jot", { tauMax: 10 }],
    ["klass", { klThreshold: 0.1, history: 1 }],
  ];
  const stops: [string, Record<string, ParamValue>][] = [
    ["stable-confident", { entropy: 0.05 }],
    ["sched", { tauHigh: 20, tauLow: 5 }],
    ["edit", {}], // bundle.json's calibrated delta/Omega
  ];
  for (const [stop, sp] of stops) for (const [c, cp] of commits) out.push(P("composed", `${stop}+${c}`, { ...sp, ...cp }));
  // EDIT's block stop where it adapts (tiny delta, docs/evaluation.md) on top of the two strongest commit rules.
  const tiny = { tau: 0.03, deltaFirst: 1e-5, omegaFirst: 1, deltaLater: 1e-5, omegaLater: 1, polishSteps: 0 };
  for (const [c, cp] of commits.slice(0, 3)) out.push(P("composed", `edit+${c}`, { ...tiny, ...cp }));
  for (const [c, cp] of commits) out.push(P("composed", `${c}+edit-cos`, { ...cp, cosDelta: 1e-3, cosOmega: 1 }));
  out.push(P("composed", "jot+eb-sampler", { tauMax: 10, gamma: 0.3 }));
  return out;
}

/**
 * The issue-14 sweep: every peer and composition, the commit-rule oracle, and a reduced EDIT grid
 * (the tiny-delta region where it adapts, plus the paper's delta) so the run fits two shared cores.
 */
export const PEERS_GRID: SweepGrid = {
  ...DEFAULT_GRID,
  taus: [1, 0.1, 0.03],
  deltas: [1e-7, 1e-5, 1e-3, 0.05],
  omegas: [1, 2, 4, 6],
  // No polish > 0 configurations: each needs scripted runs (with edit-released's per-token bookkeeping inside).
  releasedDeltas: [],
  fixedPolish: [0],
};

/**
 * Issue 21's sweep: every peer as its authors ship it (defaults first, then the papers' per-task values
 * and a few knobs), the earlier union variants, the newest peers (Prophet's thresholds also scaled to
 * this model's large logit margins), the project's jot and confidence, the commit-rule oracle and the
 * learned commit policy when the bundle ships one. No EDIT block-stop sweep (docs/evaluation.md: it
 * changes no output on top of a commit rule).
 */
export function issue21Peers(learned: boolean): PeerConfig[] {
  const P = (family: Family, rule: string, params: Record<string, ParamValue> = {}): PeerConfig => ({ family, rule, params });
  const out: PeerConfig[] = [
    P("klass", "klass"),
    // KLASS's scripts (LLaDA: gsm8k, humaneval, math, mbpp; Dream: gsm8k, humaneval, math): confidence / KL.
    ...[[0.6, 0.015], [0.6, 0.01], [0.7, 0.01]].map(([c, k]) => P("klass", "klass", { confThreshold: c, klThreshold: k })),
    ...[[0.9, 0.001], [0.9, 0.005], [0.8, 0.001]].map(([c, k]) => P("klass", "klass", { confThreshold: c, klThreshold: k, variant: "dream" })),
    P("klass-union", "klass", { union: true }),
    P("klass-union", "klass", { union: true, confThreshold: 0.7 }),
    P("less", "less"),
    P("less", "less", { confThreshold: 0.6 }),
    P("less", "less", { jsThreshold: 0.1 }),
    P("less", "less", { persist: 1 }),
    // LESS's Dream sampler (dream_sampling/less.py): frontier-first prefix commit, eos gates, eos early stop.
    P("less", "less", { variant: "dream" }),
    P("less", "less", { variant: "dream", confThreshold: 0.6 }),
    P("less-union", "less", { union: true }),
    P("less-union", "less", { union: true, persist: 1 }),
    ...[0.01, 0.1, 0.3, 1, 3].map((gamma) => P("eb-sampler", "eb-sampler", { gamma })),
    ...[0.3, 1].map((gamma) => P("eb-sampler-union", "eb-sampler", { gamma, union: true })),
    P("prophet", "prophet"),
    ...[2, 3, 4].map((x) => P("prophet", "prophet", { tauHigh: 7.5 * x, tauMid: 5 * x, tauLow: 2.5 * x })),
    P("wino", "wino"),
    P("wino", "wino", { threshold: 0.8 }),
    P("wino", "wino", { threshold: 0.9, thresholdBack: 0.5 }),
    ...[0.95, 0.9, 0.8, 0.7].map((threshold) => P("credit-decoding", "credit-decoding", { threshold })),
    P("dus", "dus"),
    P("dus", "dus", { threshold: 0.5 }),
    P("dus", "dus", { threshold: 0.9 }),
    P("dus", "dus", { alpha: 4 }),
  ];
  if (learned) {
    for (const threshold of [0.5, 0.7, 0.8, 0.9, 0.95, 0.97]) {
      out.push(P("learned", "learned", { threshold }));
      out.push(P("learned-no-edit", "learned", { threshold, policy: "no-edit" }));
      // The end-of-answer ablation: no end-of-answer network, no settled-answer stop.
      if (threshold >= 0.7) out.push(P("learned-no-end", "learned", { threshold, eosThreshold: 1, settle: false }));
    }
    for (const budget of [0.1, 0.3]) {
      out.push(P("learned", "learned", { threshold: 1, budget }));
      out.push(P("learned-no-edit", "learned", { threshold: 1, budget, policy: "no-edit" }));
    }
  }
  return out;
}

/** Issue 21's grid: issue21Peers, jot and confidence sweeps, the commit oracle; EDIT's sweep left out. */
export function issue21Grid(learned: boolean): SweepGrid {
  return {
    taus: [],
    deltas: [],
    omegas: [],
    releasedDeltas: [],
    confidence: [0.7, 0.9, 0.97],
    jotTauMax: [3, 10, 30],
    fixedPolish: [0],
    peers: issue21Peers(learned),
    commitOracle: true,
  };
}

/** A configuration id from a rule spec and its params: "eb-sampler gamma=0.3". */
export function peerId(c: PeerConfig): string {
  const kv = Object.entries(c.params).map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v) : String(v)}`);
  return [c.rule, ...kv].join(" ");
}

/** The released rule's defaults besides delta (its THRESHOLD_PARAMS omega and polishSteps 2). */
const RELEASED_OMEGA = 6;
const RELEASED_POLISH = 2;

interface RunLength {
  deltaFirst: number;
  omegaFirst: number;
  deltaLater: number;
  omegaLater: number;
  polishSteps: number;
}

function runLengthPolicy(p: RunLength, series: (t: BlockTrajectory) => (number | null)[]): StopPolicy {
  return (traj) => {
    const first = traj.index === 0;
    const t = runLengthStop(series(traj), first ? p.deltaFirst : p.deltaLater, first ? p.omegaFirst : p.omegaLater, traj.budget, p.polishSteps);
    return t === null ? null : { step: t, polish: p.polishSteps };
  };
}

export function editPolicy(p: RunLength & { tau: number }): StopPolicy {
  return runLengthPolicy(p, (traj) => traj.editKl(p.tau));
}

export function releasedPolicy(p: RunLength): StopPolicy {
  return runLengthPolicy(p, (traj) => traj.releasedKl());
}

export function fixedPolicy(n: number, polish: number): StopPolicy {
  return (traj) => (n + polish < traj.budget ? { step: n, polish } : null);
}

export const fullPolicy: StopPolicy = () => null;
/** Stop each block at the oracle step with an argmax fill: the full output with the fewest forwards. */
export const oraclePolicy: StopPolicy = (traj) => (traj.oracle < traj.budget ? { step: traj.oracle, polish: 0 } : null);

const num = (v: ParamValue | undefined, d: number): number => (typeof v === "number" ? v : d);
/** 1e-6 rather than 0.000001 in configuration ids. */
export const fmt = (x: number): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x));

function runLengthEarliest(counts: number[], minMatched: number, p: RunLength): (b: number) => number | null {
  return (b) => earliestStopStep(counts, minMatched, b === 0 ? p.omegaFirst : p.omegaLater, p.polishSteps);
}

export function editConfig(id: string, family: Family, p: RunLength & { tau: number }, counts: number[]): EvalConfig {
  return {
    id,
    family,
    rule: "edit",
    params: { ...p },
    polish: p.polishSteps,
    policy: editPolicy(p),
    earliest: runLengthEarliest(counts, 2, p),
  };
}

export function releasedConfig(id: string, family: Family, p: RunLength, counts: number[]): EvalConfig {
  return {
    id,
    family,
    rule: "edit-released",
    params: { ...p },
    polish: p.polishSteps,
    policy: releasedPolicy(p),
    earliest: runLengthEarliest(counts, 1, p),
  };
}

/**
 * Every configuration of the sweep. `counts` = the schedule's per-step commits of one block;
 * `calibrated` = the task's bundle.json stop (simulated when it is edit/edit-released/fixed/full).
 */
export function buildConfigs(
  grid: SweepGrid,
  counts: number[],
  calibrated: { rule: string; params: Record<string, ParamValue> } | null,
  released: boolean,
  families: ReadonlySet<Family> | null = null,
): EvalConfig[] {
  const budget = counts.length;
  const want = (f: Family) => !families || families.has(f);
  const rules: EvalConfig[] = [];
  if (want("edit")) {
    for (const tau of grid.taus) {
      for (const delta of grid.deltas) {
        for (const omega of grid.omegas) {
          if (omega >= budget) continue;
          const p = { tau, deltaFirst: delta, omegaFirst: omega, deltaLater: delta, omegaLater: omega, polishSteps: 0 };
          rules.push(editConfig(`edit tau=${tau} delta=${fmt(delta)} omega=${omega}`, "edit", p, counts));
        }
      }
    }
  }
  if (released && want("edit-released")) {
    for (const delta of grid.releasedDeltas) {
      const p = { deltaFirst: delta, omegaFirst: RELEASED_OMEGA, deltaLater: delta, omegaLater: RELEASED_OMEGA, polishSteps: RELEASED_POLISH };
      rules.push(releasedConfig(`edit-released delta=${fmt(delta)}`, "edit-released", p, counts));
    }
  }
  if (want("confidence")) {
    for (const threshold of grid.confidence) {
      rules.push({ id: `confidence threshold=${threshold}`, family: "confidence", rule: "confidence", params: { threshold }, polish: 0, policy: null, earliest: null });
    }
  }
  if (want("jot")) {
    for (const tauMax of grid.jotTauMax) {
      rules.push({ id: `jot tauMax=${tauMax}`, family: "jot", rule: "jot", params: { tauMax }, polish: 0, policy: null, earliest: null });
    }
  }
  for (const pc of grid.peers ?? []) {
    if (!want(pc.family)) continue;
    rules.push({ id: peerId(pc), family: pc.family, rule: pc.rule, params: { ...pc.params }, polish: 0, policy: null, earliest: null });
  }
  if (grid.commitOracle && want("commit-oracle")) {
    rules.push({ id: "commit oracle (greedy)", family: "commit-oracle", rule: COMMIT_ORACLE_SPEC, params: {}, polish: 0, policy: null, earliest: null });
  }
  if (calibrated) rules.push(calibratedConfig(calibrated, counts, released));

  // The fixed baseline: every N with polish 0; with polish p > 0 only from just below the earliest stop
  // any p-polish rule can make (a p-polish stop at t costs t + p forwards), so the neighbours of
  // every such rule's forwards exist without running N that no rule can match.
  const fixed: EvalConfig[] = [];
  const polishes = new Set([0, ...grid.fixedPolish, ...rules.map((r) => r.polish)]);
  for (const polish of [...polishes].sort((a, b) => a - b)) {
    let from = 1;
    if (polish > 0) {
      const earliest = rules
        .filter((r) => r.polish === polish)
        .flatMap((r) => [r.earliest?.(0) ?? 1, r.earliest?.(1) ?? 1]);
      if (earliest.length) from = Math.max(1, Math.min(...earliest) - 1);
    }
    for (let n = from; n + polish < budget; n++) {
      fixed.push({ id: `fixed n=${n} p=${polish}`, family: "fixed", rule: "fixed", params: { n, polishSteps: polish }, polish, policy: fixedPolicy(n, polish), earliest: null });
    }
  }
  return [
    { id: "full", family: "full", rule: "full", params: {}, polish: 0, policy: fullPolicy, earliest: null },
    { id: "oracle", family: "oracle", rule: "oracle", params: {}, polish: 0, policy: oraclePolicy, earliest: null },
    ...fixed,
    ...rules,
  ];
}

/** The bundle's calibrated stop as one more configuration (params over the rule's defaults). */
export function calibratedConfig(c: { rule: string; params: Record<string, ParamValue> }, counts: number[], released: boolean): EvalConfig {
  const q = c.params;
  if (c.rule === "edit") {
    const p = {
      tau: num(q.tau, 1),
      deltaFirst: num(q.deltaFirst, 0.05),
      omegaFirst: num(q.omegaFirst, 6),
      deltaLater: num(q.deltaLater, 0.1),
      omegaLater: num(q.omegaLater, 6),
      polishSteps: num(q.polishSteps, 0),
    };
    return editConfig("calibrated (bundle.json)", "calibrated", p, counts);
  }
  if (c.rule === "edit-released" && released) {
    const p = {
      deltaFirst: num(q.deltaFirst, 0.05),
      omegaFirst: num(q.omegaFirst, 6),
      deltaLater: num(q.deltaLater, 0.1),
      omegaLater: num(q.omegaLater, 6),
      polishSteps: num(q.polishSteps, 2),
    };
    return releasedConfig("calibrated (bundle.json)", "calibrated", p, counts);
  }
  if (c.rule === "fixed") {
    const n = num(q.n, 8);
    const polish = num(q.polishSteps, 0);
    return { id: "calibrated (bundle.json)", family: "calibrated", rule: "fixed", params: { n, polishSteps: polish }, polish, policy: fixedPolicy(n, polish), earliest: null };
  }
  if (c.rule === "full") return { id: "calibrated (bundle.json)", family: "calibrated", rule: "full", params: {}, polish: 0, policy: fullPolicy, earliest: null };
  // Any other rule runs through the engine with no params: the engine merges the task's bundle.json params
  // under them and keeps those the rule declares (bundle.json keeps EDIT's calibrated params beside a commit rule's).
  return { id: "calibrated (bundle.json)", family: "calibrated", rule: c.rule, params: {}, polish: 0, policy: null, earliest: null };
}
