/**
 * Issue 14's questions, answered from an EvalSummary (docs/evaluation.md, "The newer peers"):
 *  - per task and rule family, the setting val chooses (fewest forwards with val accuracy >= full - tol)
 *    and what it does on test: accuracy with its 95 % Wilson interval, forwards per block, whether it
 *    holds (test accuracy >= full - tol), and exact McNemar tests with discordant counts against full and
 *    against the composed policy's choice;
 *  - whether the composed policy uses fewer forwards than every single peer that holds;
 *  - what each part of a composition adds on top of the same composition without it (EDIT's block stop,
 *    EDIT's per-token signal, a peer's stop), paired on the same items;
 *  - the commit-rule oracle's forwards next to full's and the stop-step oracle's.
 * Pure functions over the summary: the numbers come from eval.json, nothing is re-run.
 */
import { listStopRules } from "../../../server/src/public";
import { chooseDefault, type ConfigSummary, type EvalSummary, type TaskSummary } from "./analyze";
import { PEER_FAMILIES, type Family } from "./configs";
import { mcnemarExact, pairedCounts, wilson } from "./stats";

/** The families compared (fixed = the matched-cost baseline; composed = the composed policies). */
export const PICK_FAMILIES: readonly Family[] = ["fixed", "edit", "confidence", "jot", ...PEER_FAMILIES];
/** Peer families whose rules end blocks (stop rules, Prophet's commit-everything) rather than choose tokens to commit. */
const STOP_FAMILIES: ReadonlySet<Family> = new Set(["stable-confident", "sched", "prophet"]);
/** The single rules the composed policy has to beat (issue 14's peers and the project's commit rules). */
export const SINGLE_PEERS: readonly Family[] = [
  "confidence",
  "jot",
  ...PEER_FAMILIES.filter((f) => f !== "edit-cos" && f !== "composed" && !f.startsWith("learned")),
];
/** The commit rules (the "best commit rule" pick). */
const COMMIT_FAMILIES: readonly Family[] = ["confidence", "jot", ...PEER_FAMILIES.filter((f) => f !== "composed" && !STOP_FAMILIES.has(f))];
/** Rules that cannot be the "best commit rule" a part is added to (stop rules and EDIT's own signals). */
const NOT_A_COMMIT_BASE = new Set(["stable-confident", "sched", "edit", "edit-cos", "fixed", "full"]);

export interface Paired {
  /** Items only the first side solves / only the second side solves; exact two-sided McNemar p. */
  onlyA: number;
  onlyB: number;
  p: number;
}

export interface SplitNumbers {
  items: number;
  accuracy: number;
  ci: [number, number];
  forwardsPerBlock: number;
  sameAsFull: number | null;
}

export interface FamilyPick {
  family: Family;
  /** null: no setting of the family is within tolerance of full on val. */
  config: string | null;
  val: SplitNumbers | null;
  test: SplitNumbers | null;
  holds: boolean;
  vsFull: Paired | null;
  vsComposed: Paired | null;
}

export interface PartEffect {
  composed: string;
  part: string;
  base: string;
  split: string;
  base_: SplitNumbers;
  with_: SplitNumbers;
  /** onlyA = solved only with the part, onlyB = only without it. */
  paired: Paired;
}

export interface TaskPeers {
  task: string;
  full: SplitNumbers;
  oracleForwards: number;
  commitOracle: SplitNumbers | null;
  picks: FamilyPick[];
  composed: FamilyPick | null;
  /** The composed pick vs every single peer whose pick holds on test: fewer forwards per block? */
  vsPeers: { family: Family; peerForwards: number; composedForwards: number; fewer: boolean; paired: Paired }[];
  /** True when the composed pick holds and uses fewer forwards than every single peer that holds. */
  target: boolean | null;
  bestCommit: string | null;
  parts: PartEffect[];
}

function numbers(c: ConfigSummary): SplitNumbers {
  return {
    items: c.items,
    accuracy: c.accuracy,
    ci: wilson(c.correct, c.items),
    forwardsPerBlock: c.forwardsPerBlock,
    sameAsFull: c.sameAsFull ?? null,
  };
}

function paired(a: ConfigSummary, b: ConfigSummary): Paired {
  const toBool = (s: string) => [...s].map((x) => x === "1");
  const pc = pairedCounts(toBool(a.outcomes), toBool(b.outcomes));
  return { onlyA: pc.onlyA, onlyB: pc.onlyB, p: mcnemarExact(pc.onlyA, pc.onlyB) };
}

/** The val choice restricted to configurations passing `pick` (same criterion as the default). */
export function chooseWithin(task: string, val: TaskSummary, tol: number, pick: (c: ConfigSummary) => boolean): string | null {
  const only: TaskSummary = { ...val, configs: val.configs.filter(pick) };
  if (only.configs.length === 0) return null;
  const ch = chooseDefault(task, only, tol);
  return ch.config === "full" || ch.config === "keep bundle.json" ? null : ch.config;
}

const PARAMS_OF = new Map(listStopRules().map((r) => [r.name, new Set(r.params.map((p) => p.name))]));

/** "edit+jot" without "edit": the spec and params of the base configuration, as its id. */
export function withoutPart(rule: string, params: Record<string, unknown>, part: string): string | null {
  const parts = rule.split("+");
  if (parts.length < 2 || !parts.includes(part)) return null;
  const rest = parts.filter((p) => p !== part);
  const keep = (k: string) => rest.some((r) => PARAMS_OF.get(r)?.has(k));
  const kv = Object.entries(params)
    .filter(([k]) => keep(k))
    .map(([k, v]) => `${k}=${typeof v === "number" && v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v)}`);
  return [rest.join("+"), ...kv].join(" ");
}

export function taskPeers(s: EvalSummary, task: string, reportSplit = "test"): TaskPeers | null {
  const val = s.splits.val?.[task];
  const test = s.splits[reportSplit]?.[task];
  if (!val || !test) return null;
  const tol = s.tolerance;
  const byId = (t: TaskSummary, id: string) => t.configs.find((c) => c.id === id);
  const holdsOnTest = (c: ConfigSummary) => c.accuracy >= test.full.accuracy - tol - 1e-12;

  const picks: FamilyPick[] = PICK_FAMILIES.map((family) => {
    const id = chooseWithin(task, val, tol, (c) => c.family === family);
    const v = id ? byId(val, id) : undefined;
    const t = id ? byId(test, id) : undefined;
    return {
      family,
      config: id,
      val: v ? numbers(v) : null,
      test: t ? numbers(t) : null,
      holds: t ? holdsOnTest(t) : false,
      vsFull: t ? paired(t, test.full) : null,
      vsComposed: null,
    };
  });
  const composed = picks.find((p) => p.family === "composed") ?? null;
  const composedTest = composed?.config ? byId(test, composed.config) : undefined;
  for (const p of picks) {
    const t = p.config ? byId(test, p.config) : undefined;
    if (t && composedTest && p.family !== "composed") p.vsComposed = paired(t, composedTest); // this rule only / composed only
  }
  const vsPeers: TaskPeers["vsPeers"] = [];
  for (const p of picks) {
    if (!SINGLE_PEERS.includes(p.family) || !p.holds || !p.test || !composedTest || !p.config) continue;
    vsPeers.push({
      family: p.family,
      peerForwards: p.test.forwardsPerBlock,
      composedForwards: composedTest.forwardsPerBlock,
      fewer: composedTest.forwardsPerBlock < p.test.forwardsPerBlock,
      paired: paired(composedTest, byId(test, p.config)!),
    });
  }
  const target = composed && composed.config ? composed.holds && vsPeers.every((v) => v.fewer) : null;

  // What each part of a composition adds: every composed config against itself without one part.
  const parts: PartEffect[] = [];
  for (const c of test.configs) {
    if (c.family !== "composed") continue;
    for (const part of c.rule.split("+")) {
      const baseId = withoutPart(c.rule, c.params, part);
      const base = baseId ? byId(test, baseId) : undefined;
      // Only "X plus a part" where X still commits tokens by a peer's own signal is a question here.
      if (!base || base.rule.split("+").every((r) => NOT_A_COMMIT_BASE.has(r))) continue;
      parts.push({ composed: c.id, part, base: base.id, split: reportSplit, base_: numbers(base), with_: numbers(c), paired: paired(c, base) });
    }
  }
  const commitOracle = test.configs.find((c) => c.family === "commit-oracle");
  return {
    task,
    full: numbers(test.full),
    oracleForwards: test.oracle.forwardsPerBlock,
    commitOracle: commitOracle ? numbers(commitOracle) : null,
    picks,
    composed,
    vsPeers,
    target,
    bestCommit: chooseWithin(task, val, tol, (c) => COMMIT_FAMILIES.includes(c.family)),
    parts,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const ci = (n: SplitNumbers) => `${pct(n.accuracy)} (${(100 * n.ci[0]).toFixed(1)}-${(100 * n.ci[1]).toFixed(1)})`;
const pv = (p: number) => (p < 0.001 ? "<0.001" : p.toFixed(3));
const pair = (d: Paired | null) => (d ? `${d.onlyA}/${d.onlyB}, p=${pv(d.p)}` : "");

/** The markdown section of results.md for the peers (per task on which full solves enough val items). */
export function peersMarkdown(s: EvalSummary, reportSplit = "test"): string[] {
  const L: string[] = [];
  const tasks = Object.keys(s.splits[reportSplit] ?? {}).filter((t) => (s.splits.val?.[t]?.full.correct ?? 0) >= 5);
  if (tasks.length === 0) return L;
  L.push(`## The newer peers and the composed policy: each family at its val-chosen setting (${reportSplit})`, "");
  L.push(
    `Per family the setting with the fewest forwards per block whose val accuracy is >= full - ${s.tolerance}; on ${reportSplit}: accuracy (95 % Wilson interval), ` +
      `forwards per block, "holds" = ${reportSplit} accuracy >= full - ${s.tolerance}; McNemar: discordant items (this rule only / the other only), exact p.`,
    "",
  );
  L.push("| task | family | val-chosen setting | accuracy (95 % CI) | forwards/block | x commit oracle | holds | vs full | vs composed |");
  L.push("|---|---|---|---:|---:|---:|:---:|---|---|");
  const all = tasks.map((t) => taskPeers(s, t, reportSplit)).filter((x): x is TaskPeers => x !== null);
  for (const tp of all) {
    const co = tp.commitOracle;
    const ratio = (f: number) => (co && co.forwardsPerBlock > 0 ? `${(f / co.forwardsPerBlock).toFixed(2)}x` : "");
    L.push(`| ${tp.task} | full | | ${ci(tp.full)} | ${tp.full.forwardsPerBlock.toFixed(2)} | ${ratio(tp.full.forwardsPerBlock)} | | | |`);
    for (const p of tp.picks) {
      if (!p.config || !p.test) {
        L.push(`| ${tp.task} | ${p.family} | none within ${s.tolerance} on val | | | | | | |`);
        continue;
      }
      L.push(
        `| ${tp.task} | ${p.family} | \`${p.config}\` | ${ci(p.test)} | ${p.test.forwardsPerBlock.toFixed(2)} | ${ratio(p.test.forwardsPerBlock)} | ` +
          `${p.holds ? "yes" : "no"} | ${pair(p.vsFull)} | ${pair(p.vsComposed)} |`,
      );
    }
    L.push(
      `| ${tp.task} | oracles | stop-step oracle / greedy commit oracle${co ? ` (same output as full: ${co.sameAsFull}/${co.items})` : ""} | | ` +
        `${tp.oracleForwards.toFixed(2)} / ${co ? co.forwardsPerBlock.toFixed(2) : "n/a"} | | | | |`,
    );
  }
  L.push("");
  L.push("### Does the composed policy beat every single peer at matched accuracy?", "");
  L.push("| task | composed (val-chosen) | forwards/block | peer | peer's forwards/block | fewer | composed only / peer only, p |");
  L.push("|---|---|---:|---|---:|:---:|---|");
  for (const tp of all) {
    const c = tp.composed;
    if (!c?.config || !c.test) {
      L.push(`| ${tp.task} | none within tolerance | | | | | |`);
      continue;
    }
    for (const v of tp.vsPeers) {
      L.push(`| ${tp.task} | \`${c.config}\`${c.holds ? "" : " (does not hold on test)"} | ${v.composedForwards.toFixed(2)} | ${v.family} | ${v.peerForwards.toFixed(2)} | ${v.fewer ? "yes" : "no"} | ${pair(v.paired)} |`);
    }
    L.push(`| ${tp.task} | **target ${tp.target ? "met" : "not met"}** | | | | | |`);
  }
  L.push("");
  L.push(`### What each part of a composition adds (${reportSplit}; paired on the same items)`, "");
  L.push("| task | composition | part | without the part | accuracy without → with | forwards/block without → with | with only / without only, p |");
  L.push("|---|---|---|---|---|---|---|");
  for (const tp of all) {
    for (const e of tp.parts) {
      const best = tp.bestCommit === e.base ? " (best commit rule on val)" : "";
      L.push(
        `| ${tp.task} | \`${e.composed}\` | ${e.part} | \`${e.base}\`${best} | ${pct(e.base_.accuracy)} → ${pct(e.with_.accuracy)} | ` +
          `${e.base_.forwardsPerBlock.toFixed(2)} → ${e.with_.forwardsPerBlock.toFixed(2)} | ${pair(e.paired)} |`,
      );
    }
  }
  L.push("");
  return L;
}
