/** eval/<bundle>/results.md: the tables of docs/evaluation.md, generated from the EvalSummary. */
import { chooseDefault, type ConfigSummary, type EvalSummary, type TaskSummary } from "./analyze";
import type { Family } from "./configs";
import { peersMarkdown } from "./peers";

const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : `${(100 * x).toFixed(1)}%`);
const f2 = (x: number) => x.toFixed(2);
const pv = (p: number) => (p < 0.001 ? "<0.001" : p.toFixed(3));
const rho = (c: ConfigSummary) => (c.spearman === null ? "n/a" : `${c.spearman.toFixed(2)} (${c.spearmanBlocks})`);

function matchedCells(c: ConfigSummary): string {
  const m = c.matched;
  if (!m) return "| | | |";
  const lo = `N=${m.lo.n} (${f2(m.lo.forwardsPerBlock)}): ${pct(m.lo.accuracy)}, ${m.lo.ruleOnly}/${m.lo.fixedOnly}, p=${pv(m.lo.p)}`;
  const hi = m.hi.id === m.lo.id ? "same" : `N=${m.hi.n} (${f2(m.hi.forwardsPerBlock)}): ${pct(m.hi.accuracy)}, ${m.hi.ruleOnly}/${m.hi.fixedOnly}, p=${pv(m.hi.p)}`;
  return `| ${pct(m.accuracy)}${m.clamped ? " (clamped)" : ""} | ${lo} | ${hi} |`;
}

function ruleRow(label: string, c: ConfigSummary, t: TaskSummary): string {
  const red = t.full.forwardsPerBlock ? 1 - c.forwardsPerBlock / t.full.forwardsPerBlock : 0;
  return `| ${label} | \`${c.id}\` | ${pct(c.accuracy)} | ${f2(c.forwardsPerBlock)} (${pct(red)} saved) ${matchedCells(c)}`;
}

const MATCH_HEADER = [
  "| rule | configuration | accuracy | forwards/block | fixed @ matched forwards (interpolated) | fixed, lower neighbour: acc, rule-only/fixed-only, McNemar p | fixed, upper neighbour |",
  "|---|---|---:|---:|---:|---|---|",
];

function byId(t: TaskSummary, id: string): ConfigSummary | undefined {
  return t.configs.find((c) => c.id === id);
}

/** Per family: the configuration the val split would choose within that family (same criterion as the default). */
function familyChoices(s: EvalSummary, task: string): Map<string, string> {
  const out = new Map<string, string>();
  const val = s.splits.val?.[task];
  if (!val) return out;
  const groups: [string, (c: ConfigSummary) => boolean][] = [];
  for (const fam of ["edit", "edit-released", "fixed", "confidence", "jot"] as Family[]) groups.push([fam, (c) => c.family === fam]);
  const taus = [...new Set(val.configs.filter((c) => c.family === "edit").map((c) => Number(c.params.tau)))];
  for (const tau of taus) groups.push([`edit tau=${tau}`, (c) => c.family === "edit" && Number(c.params.tau) === tau]);
  for (const [name, pick] of groups) {
    const only: TaskSummary = { ...val, configs: val.configs.filter(pick) };
    if (only.configs.length === 0) continue;
    const ch = chooseDefault(task, only, s.tolerance);
    if (ch.config !== "full") out.set(name, ch.config);
  }
  return out;
}

/** The paper's rule as written (delta = 0.05) at every tau, with the bundle's Omega (or 4). */
function paperIds(t: TaskSummary): string[] {
  const cal = t.configs.find((c) => c.family === "calibrated");
  const omega = cal && cal.rule === "edit" ? Number(cal.params.omegaFirst) : 4;
  const ids = t.configs.filter((c) => c.family === "edit" && c.params.deltaFirst === 0.05 && c.params.omegaFirst === omega).map((c) => c.id);
  return ids.length ? ids : t.configs.filter((c) => /^edit tau=[\d.e-]+ delta=0\.05 omega=4$/.test(c.id)).map((c) => c.id);
}

export function evalMarkdown(s: EvalSummary, reportSplit = "test"): string {
  const L: string[] = [];
  const split = s.splits[reportSplit] ?? {};
  L.push(`# Evaluation tables: ${s.bundle} (${reportSplit} split; choices made on val)`, "");
  L.push(
    `Generated ${s.generatedAt} on ${s.provider}. ${s.numBlocks} blocks x ${s.blockLength} tokens, budget ${s.budget} forwards per block, ` +
      `schedule commits ${JSON.stringify(s.counts)}. Tolerance for choices: val accuracy >= full - ${s.tolerance}. ` +
      `McNemar: exact two-sided test on discordant items (rule-only / fixed-only).`,
    "",
  );
  L.push("## Default rule per task (chosen on val) vs full, fixed at matched forwards, oracle", "");
  L.push(...MATCH_HEADER);
  for (const [task, t] of Object.entries(split)) {
    const ch = s.choices[task];
    const c = ch ? byId(t, ch.config) : undefined;
    L.push(ruleRow(`${task}: full`, t.full, t) + "");
    if (c) L.push(ruleRow(`${task}: default`, c, t));
    L.push(ruleRow(`${task}: oracle`, t.oracle, t));
  }
  L.push("");
  L.push("## The paper's rule as written (delta = 0.05, the bundle's Omega) at every tau vs fixed at matched forwards (test)", "");
  L.push(...MATCH_HEADER);
  for (const [task, t] of Object.entries(split)) {
    for (const id of paperIds(t)) {
      const c = byId(t, id);
      if (c) L.push(ruleRow(`${task}: paper`, c, t));
    }
  }
  L.push("");
  L.push("## Every rule family (and the paper's rule at each tau) at its val-chosen setting vs fixed at matched forwards (test)", "");
  L.push(...MATCH_HEADER);
  for (const [task, t] of Object.entries(split)) {
    for (const [fam, id] of familyChoices(s, task)) {
      const c = byId(t, id);
      if (c) L.push(ruleRow(`${task}: ${fam}`, c, t));
    }
    const cal = byId(t, "calibrated (bundle.json)");
    if (cal) L.push(ruleRow(`${task}: bundle.json`, cal, t));
  }
  L.push("");
  L.push("## Is EDIT adaptive? Stop steps vs the earliest possible step and vs the oracle step (test)", "");
  L.push("| task | configuration | accuracy | forwards/block | blocks stopped | stopped at the earliest possible step | Spearman(stop, oracle) (blocks) |");
  L.push("|---|---|---:|---:|---:|---:|---:|");
  for (const [task, t] of Object.entries(split)) {
    const ids = new Set<string>(paperIds(t));
    for (const c of t.configs) if (c.id === "edit-released delta=0.05") ids.add(c.id);
    for (const id of familyChoices(s, task).values()) ids.add(id);
    ids.add("calibrated (bundle.json)");
    for (const id of ids) {
      const c = byId(t, id);
      if (!c) continue;
      L.push(`| ${task} | \`${c.id}\` | ${pct(c.accuracy)} | ${f2(c.forwardsPerBlock)} | ${pct(c.stopFraction)} | ${pct(c.atEarliestFraction)} | ${rho(c)} |`);
    }
    L.push(`| ${task} | oracle | ${pct(t.oracle.accuracy)} | ${f2(t.oracle.forwardsPerBlock)} | ${pct(t.oracle.stopFraction)} | | |`);
  }
  L.push("");
  L.push("## D_t along the full run (test): quantiles of the defined values, per block", "");
  L.push("| task | block | series | steps | defined | min | 5% | 25% | median | 75% | 95% | max | share < 0.05 |");
  L.push("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const e = (x: number) => (Number.isNaN(x) ? "n/a" : x.toExponential(1));
  for (const [task, t] of Object.entries(split)) {
    for (const d of t.dt) {
      L.push(`| ${task} | ${d.block} | ${d.series} | ${d.steps} | ${d.defined} | ${d.quantiles.map(e).join(" | ")} | ${pct(d.below005)} |`);
    }
  }
  L.push("");
  L.push(...peersMarkdown(s, reportSplit));
  L.push("## Simulation check (simulated configurations re-run through the engine)", "");
  L.push("| configuration | compared runs | identical output and forwards |", "|---|---:|---:|");
  for (const c of s.checks) L.push(`| \`${c.config}\` | ${c.compared} | ${c.identical}${c.mismatches.length ? ` (${c.mismatches.join("; ")})` : ""} |`);
  L.push("");
  L.push(
    `Cost: ${s.cost.forwardsComputed} forwards computed for ${s.cost.forwardsRequested} requested (shared through the forward cache), ` +
      `${s.cost.scriptedRuns} scripted runs, ${s.cost.realRuns} real rule runs, ${(s.cost.wallMs / 1000).toFixed(0)} s wall.`,
    "",
  );
  return L.join("\n") + "\n";
}

/** stop-choice.json: what the integrator writes into bundle.json tasks[task].stop. */
export function stopChoiceJson(s: EvalSummary): unknown {
  const tasks: Record<string, unknown> = {};
  for (const [task, ch] of Object.entries(s.choices)) {
    const test = s.splits.test?.[task];
    const c = test?.configs.find((x) => x.id === ch.config);
    tasks[task] = {
      stop: ch.stop,
      config: ch.config,
      reason: ch.reason,
      val: ch.val,
      test: c && test ? { accuracy: c.accuracy, forwardsPerBlock: c.forwardsPerBlock, fullAccuracy: test.full.accuracy, fullForwardsPerBlock: test.full.forwardsPerBlock, matchedFixedAccuracy: c.matched?.accuracy ?? null } : null,
    };
  }
  return { format: "edit-stop-choice/1", bundle: s.bundle, chosenOn: "val", tolerance: s.tolerance, generatedAt: s.generatedAt, tasks };
}
