/**
 * `edit-dllm eval`: the honest evaluation of the stop rules (docs/evaluation.md). Sweeps every rule's
 * main parameter on the val and test items, compares each with the fixed-N baseline at matched
 * forwards, records D_t distributions and stop-step statistics, and chooses the default rule per task
 * on val. Writes OUT/eval.json, OUT/results.md and OUT/stop-choice.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadItems } from "../bench/items";
import { defaultBundleDir, packageRoot } from "../../../server/src/public";
import type { CacheMode } from "../../../server/src/public";
import { cacheEvalMarkdown, runCacheEval } from "../eval/cache-eval";
import { CACHE_MODES } from "../../../server/src/public";
import { checkerFor, type TaskItem } from "../../../server/src/public";
import { readBundleConfig } from "../../../server/src/public";
import { UsageError } from "../../../server/src/public";
import { mergeSummaries, summarizeRun, type EvalSummary } from "../eval/analyze";
import { DEFAULT_GRID, PEERS_GRID, PEER_FAMILIES, issue21Grid, type Family, type SweepGrid } from "../eval/configs";
import { evalMarkdown, stopChoiceJson } from "../eval/report";
import { runEval } from "../eval/run";
import { writeCommitPolicyData } from "../eval/commit-policy-data";
import { learnedMarkdown } from "../eval/learned-report";
import { readCommitPolicies } from "../../../server/src/public";
import { isProviderChoice } from "../../../server/src/public";
import { optInt, optNum } from "../../../server/src/public";

export const EVAL_USAGE = `usage: edit-dllm eval [--bundle DIR] [--provider P] [--threads N] [--val FILE] [--test FILE]
                     [--task NAME] [--limit N] [--families edit,edit-released,confidence,jot,less,...]
                     [--check-items N] [--tolerance X] [--quick] [--out DIR]
  --val / --test: JSONL items (default bench/items/val.jsonl, bench/items/test.jsonl; export them with
                  training/.venv/bin/python -m edit_dllm.export_items). --limit: first N items per task per split.
  --learned L/eval.json (with --merge): also write DIR/learned.md, the learned commit policy's run (--families
          learned,learned-no-edit) against the merged peers run (ablation and peers paired on common items).
  --task: one task or a comma-separated list. --merge A/eval.json --merge B/eval.json: combine runs made on
          disjoint task sets (e.g. two processes, one per core) into DIR; runs nothing.
  --lanes N: items evaluated concurrently, their forwards batched (default 8). --time-budget MIN: stop starting
          items after MIN minutes (round-robin order keeps tasks balanced; the report counts the items done).
  --families: rule families to sweep (default all: edit, edit-released, confidence, jot, less, klass, eb-sampler,
          stable-confident, sched, edit-cos, composed, commit-oracle; full, oracle and fixed-N always run); "none"
          runs only those and the bundle's calibrated rule.
  --tolerance: the default rule is the cheapest with val accuracy >= full - X (default 0.01).
  --check-items: re-run simulated configurations through the engine on the first N items (default 3).
  --peers-grid: the issue-14 sweep (every peer and composition, a reduced EDIT grid).
  --policy-data FILE: write the learned commit policy's training rows (features + the commit oracle's labels)
          from the val items (first --limit per task) to FILE (JSONL); training/edit_dllm/commit_policy.py trains on it.
          --policy-driver "RULE key=value ...": record along that rule's decode (e.g. "learned threshold=0.7")
          instead of the commit oracle's; labels stay the oracle's. --policy-label outcome: where that decode ends
          right (the task's checker), label by its own final tokens instead of full's.
  --issue21-grid: every peer as published and its union variant, the newest peers, jot, confidence, the commit
          oracle and the bundle's learned commit policy when it ships one (no EDIT sweep).
  --quick: a small sweep (for smoke tests). Writes DIR/eval.json, DIR/results.md, DIR/stop-choice.json
  (default DIR: eval/<bundle name>).
  --cache-modes none,prefix,dual: instead of the rule sweep, the K/V cache as the dimension (issue 11): the same
          items and rules (--rules, default calibrated,full) under each mode, accuracy, forwards, McNemar vs none
          (--cache-refresh N: refresh every N forwards). Writes DIR/cache-eval.json and DIR/cache-eval.md.`;

const QUICK_GRID: SweepGrid = {
  taus: [1, 0.1],
  deltas: [1e-6, 1e-3, 0.05],
  omegas: [2, 4],
  releasedDeltas: [0.05, 0.5],
  confidence: [0.9],
  jotTauMax: [30],
  fixedPolish: [0, 2],
};

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      bundle: { type: "string" },
      provider: { type: "string" },
      threads: { type: "string" },
      val: { type: "string" },
      test: { type: "string" },
      task: { type: "string" },
      limit: { type: "string" },
      "check-items": { type: "string" },
      tolerance: { type: "string" },
      quick: { type: "boolean" },
      "peers-grid": { type: "boolean" },
      "issue21-grid": { type: "boolean" },
      "policy-data": { type: "string" },
      "policy-driver": { type: "string" },
      "policy-label": { type: "string" },
      families: { type: "string" },
      merge: { type: "string", multiple: true },
      learned: { type: "string" },
      lanes: { type: "string" },
      "time-budget": { type: "string" },
      out: { type: "string" },
      "cache-modes": { type: "string" },
      "cache-refresh": { type: "string" },
      rules: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(EVAL_USAGE + "\n");
    return 0;
  }
  if (values.merge?.length) {
    const parts = values.merge.map((f) => {
      if (!existsSync(f)) throw new UsageError(`--merge: no such file ${f}`);
      return JSON.parse(readFileSync(f, "utf8")) as EvalSummary;
    });
    const out = values.out ?? join("eval", parts[0].bundle);
    const merged = mergeSummaries(parts);
    writeOutputs(merged, out);
    if (values.learned) {
      // Issue 21: the learned policy's run (its own --merge output) beside this merged peers run.
      if (!existsSync(values.learned)) throw new UsageError(`--learned: no such file ${values.learned}`);
      const learned = JSON.parse(readFileSync(values.learned, "utf8")) as EvalSummary;
      writeFileSync(join(out, "learned.md"), learnedMarkdown(learned, merged));
      process.stderr.write(`eval: wrote ${join(out, "learned.md")}\n`);
    }
    return 0;
  }
  const provider = values.provider ?? "cpu";
  if (!isProviderChoice(provider)) throw new UsageError(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu; got "${provider}"`);
  const root = packageRoot();
  const splits: { name: string; items: ReturnType<typeof loadItems> }[] = [];
  for (const [name, flag] of [["val", values.val], ["test", values.test]] as const) {
    const file = flag ?? join(root, "bench", "items", `${name}.jsonl`);
    if (!existsSync(file)) {
      throw new UsageError(`no ${name} items file ${file}: pass --${name} FILE or export it with training/.venv/bin/python -m edit_dllm.export_items --split ${name} --limit 200 --out ${file}`);
    }
    let items = loadItems(file);
    const only = values.task ? new Set(values.task.split(",").map((t) => t.trim())) : null;
    if (only) items = items.filter((i) => only.has(i.task));
    if (items.length === 0) throw new UsageError(`no items${values.task ? ` for task "${values.task}"` : ""} in ${file}`);
    splits.push({ name, items });
  }
  checkItemTasks(values.bundle ?? defaultBundleDir(), splits);
  if (values["cache-modes"]) return cacheEvalCommand(values, splits);
  if (values["policy-data"]) {
    // The learned commit policy's training rows from the val items (first --limit per task).
    const limit = optInt(values.limit, "--limit");
    const per = new Map<string, number>();
    const items = splits[0].items.filter((i) => {
      const n = per.get(i.task) ?? 0;
      per.set(i.task, n + 1);
      return limit === undefined || n < limit;
    });
    const rows = await writeCommitPolicyData({
      bundleDir: values.bundle,
      threads: optInt(values.threads, "--threads"),
      items,
      out: values["policy-data"],
      ...(values["policy-driver"] ? { driver: values["policy-driver"] } : {}),
      ...(values["policy-label"] ? { label: policyLabel(values["policy-label"]) } : {}),
      onProgress: (m) => process.stderr.write(`policy data: ${m}\n`),
    });
    process.stderr.write(`policy data: ${rows} rows from ${items.length} val items -> ${values["policy-data"]}\n`);
    return 0;
  }
  const FAMILIES: Family[] = ["edit", "edit-released", "confidence", "jot", ...PEER_FAMILIES, "commit-oracle"];
  let families: Set<Family> | null = null;
  if (values.families) {
    // "none": only full, oracle, fixed-N (polish 0) and the bundle's calibrated rule.
    const names = values.families === "none" ? [] : values.families.split(",").map((x) => x.trim()).filter(Boolean);
    const bad = names.filter((n) => !FAMILIES.includes(n as Family));
    if (bad.length) throw new UsageError(`--families: unknown ${bad.join(", ")}; expected some of ${FAMILIES.join(", ")}`);
    families = new Set(names as Family[]);
  }
  const tolerance = optNum(values.tolerance, "--tolerance") ?? 0.01;
  const run = await runEval({
    bundleDir: values.bundle,
    provider,
    threads: optInt(values.threads, "--threads"),
    splits,
    limit: optInt(values.limit, "--limit"),
    grid: families?.size === 0 ? { ...DEFAULT_GRID, fixedPolish: [0] } : values.quick ? QUICK_GRID : values["issue21-grid"] ? issue21Grid(Object.keys(readCommitPolicies(resolve(values.bundle ?? defaultBundleDir()))).length > 0) : values["peers-grid"] ? PEERS_GRID : DEFAULT_GRID,
    families,
    checkItems: optInt(values["check-items"], "--check-items") ?? 3,
    lanes: optInt(values.lanes, "--lanes"),
    timeBudgetMs: values["time-budget"] === undefined ? undefined : 60_000 * (optNum(values["time-budget"], "--time-budget") ?? 0),
    onProgress: (m) => process.stderr.write(`eval: ${m}\n`),
  });
  const summary = summarizeRun(run, tolerance, "val");
  writeOutputs(summary, values.out ?? join("eval", run.bundle));
  return 0;
}

async function cacheEvalCommand(
  values: { bundle?: string; threads?: string; limit?: string; tolerance?: string; out?: string; "cache-modes"?: string; "cache-refresh"?: string; rules?: string },
  splits: { name: string; items: TaskItem[] }[],
): Promise<number> {
  const modes = (values["cache-modes"] ?? "").split(",").map((m) => m.trim());
  const bad = modes.filter((m) => !(CACHE_MODES as readonly string[]).includes(m));
  if (bad.length || !modes.includes("none")) throw new UsageError(`--cache-modes: expected none plus some of prefix, dual; got "${values["cache-modes"]}"`);
  const limit = optInt(values.limit, "--limit");
  const limited = splits.map((s) => {
    if (limit === undefined) return s;
    const seen = new Map<string, number>();
    return { name: s.name, items: s.items.filter((i) => (seen.set(i.task, (seen.get(i.task) ?? 0) + 1).get(i.task) ?? 0) <= limit) };
  });
  const bundleDir = resolve(values.bundle ?? defaultBundleDir());
  const results = await runCacheEval({
    bundleDir,
    threads: optInt(values.threads, "--threads") ?? 1,
    splits: limited,
    modes: modes as CacheMode[],
    rules: (values.rules ?? "calibrated,full").split(",").map((r) => r.trim()).filter(Boolean),
    refreshEvery: optInt(values["cache-refresh"], "--cache-refresh") ?? null,
    tolerance: optNum(values.tolerance, "--tolerance") ?? 0.01,
    onProgress: (m) => process.stderr.write(`eval: ${m}\n`),
  });
  const out = values.out ?? join("eval", results.bundle);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "cache-eval.json"), JSON.stringify(results, null, 1) + "\n");
  writeFileSync(join(out, "cache-eval.md"), cacheEvalMarkdown(results));
  process.stdout.write(cacheEvalMarkdown(results));
  return 0;
}

function writeOutputs(summary: EvalSummary, out: string): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "eval.json"), JSON.stringify(summary) + "\n");
  writeFileSync(join(out, "stop-choice.json"), JSON.stringify(stopChoiceJson(summary), null, 1) + "\n");
  const md = evalMarkdown(summary, "test");
  writeFileSync(join(out, "results.md"), md);
  process.stdout.write(md);
  process.stderr.write(`eval: wrote ${join(out, "eval.json")}, ${join(out, "results.md")}, ${join(out, "stop-choice.json")}\n`);
}

/**
 * Items of a task the bundle does not have would be skipped, leaving empty tables: refused, naming
 * the tasks. A task without a checker is scored by exact match with each item's answer (said on stderr).
 */
export function checkItemTasks(bundleDir: string, splits: { name: string; items: TaskItem[] }[]): void {
  const bundleTasks = Object.keys(readBundleConfig(bundleDir).tasks);
  const itemTasks = [...new Set(splits.flatMap((s) => s.items.map((i) => i.task)))];
  const missing = itemTasks.filter((t) => !bundleTasks.includes(t));
  if (missing.length === itemTasks.length) {
    throw new UsageError(`no item is of a task the bundle has: items are ${missing.join(", ")}, the bundle's tasks are ${bundleTasks.join(", ")} (set each item's "task" to one of them, or pass --task)`);
  }
  if (missing.length) process.stderr.write(`eval: items of ${missing.join(", ")} skipped: not a task of the bundle (its tasks: ${bundleTasks.join(", ")})\n`);
  for (const t of itemTasks.filter((x) => bundleTasks.includes(x) && !checkerFor(x))) {
    const empty = splits.flatMap((s) => s.items).filter((i) => i.task === t && i.answer.trim() === "").length;
    if (empty) throw new UsageError(`task "${t}" has no checker, so its items are scored by exact match with their "answer"; ${empty} item(s) have an empty answer`);
    process.stderr.write(`eval: task "${t}" has no checker (server/src/tasks): scored by exact match of the generated text with each item's answer\n`);
  }
}

function policyLabel(v: string): "full" | "outcome" {
  if (v !== "full" && v !== "outcome") throw new UsageError(`--policy-label must be full or outcome; got "${v}"`);
  return v;
}
