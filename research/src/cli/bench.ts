/** `edit-dllm bench`: runs full + the given rules over task items; writes results JSON + Markdown. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ParamValue } from "../../../protocol/lsp";
import { loadItems } from "../bench/items";
import { benchMarkdown } from "../bench/report";
import { compareWithReference, referenceUnavailable, runReferenceSpeed, type ReferenceSection } from "../bench/reference";
import { runBench, type BenchResults, type BenchRuleSpec } from "../bench/run";
import { createItemProgress } from "../../../server/src/public";
import { runContextSweep, sweepMarkdown } from "../bench/context-sweep";
import { replayMarkdown, runTypingReplay } from "../bench/typing-replay";
import { readBundleConfig } from "../../../server/src/public";
import { defaultBundleDir, packageRoot } from "../../../server/src/public";
import { UsageError } from "../../../server/src/public";
import { isProviderChoice } from "../../../server/src/public";
import { checkerFor, type TaskItem } from "../../../server/src/public";
import { optInt } from "../../../server/src/public";
import { parseParamValue } from "../../../server/src/public";

export const BENCH_USAGE = `usage: edit-dllm bench [--bundle DIR] [--provider P] [--threads N] [--items FILE] [--task NAME]
                      [--rules full,edit,...] [--param [rule:]key=value ...] [--limit N] [--per-task N]
                      [--no-reference] [--out bench/results.json]
  --items: JSONL (or a JSON array) of {task, prompt, answer}; default bench/items/test.jsonl. Items of tasks
    the bundle lacks are left out. --per-task N: the first N items of each task (default 10 unless --limit).
  --threads: ONNX Runtime intra-op threads AND the PyTorch reference's torch threads (default 1, so the
    speed ratio compares one core against one core).
  The PyTorch reference sampler (training/.venv + <bundle>/reference/ weights) runs on the same items after
  the engine; results get its tokens/s and the engine/reference ratio (or why it was skipped).
  --rules: comma-separated specs; "calibrated" = each task's calibrated rule from bundle.json. full always runs.
  --param rule:key=value applies to that rule only; key=value to every rule but full.
usage: edit-dllm bench --sweep [--bundle DIR] [--threads N] [--prompts 64,256,1024,4096] [--reps N] [--out FILE]
  The context sweep: prompt length x cache mode (none, prefix, dual), side by side; ms per forward and per
  completion and the speed-up over none (default out test-output/bench/context-sweep.json + .md).
usage: edit-dllm bench --typing-replay [--bundle DIR] [--threads N] [--keystrokes N] [--window N] [--out FILE]
  Types a real source file one character at a time; per keystroke one completion with none, prefix, and prefix
  with the cross-request prompt cache: hit rate, p50/p95 latency (default out test-output/bench/typing-replay.json + .md).`;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      bundle: { type: "string" },
      provider: { type: "string" },
      threads: { type: "string" },
      items: { type: "string" },
      task: { type: "string" },
      rules: { type: "string" },
      param: { type: "string", multiple: true },
      limit: { type: "string" },
      "per-task": { type: "string" },
      "no-reference": { type: "boolean" },
      out: { type: "string" },
      sweep: { type: "boolean" },
      "typing-replay": { type: "boolean" },
      keystrokes: { type: "string" },
      window: { type: "string" },
      prompts: { type: "string" },
      reps: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  void positionals;
  if (values.help) {
    process.stdout.write(BENCH_USAGE + "\n");
    return 0;
  }
  if (values.sweep) return sweepCommand(values);
  if (values["typing-replay"]) return replayCommand(values);
  const provider = values.provider ?? "auto";
  if (!isProviderChoice(provider)) throw new UsageError(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu; got "${provider}"`);
  const itemsFile = values.items ?? join(packageRoot(), "bench", "items", "test.jsonl");
  if (!existsSync(itemsFile)) throw new UsageError(`no items file ${itemsFile}: pass --items FILE (JSONL of {task, prompt, answer})`);
  let items = loadItems(itemsFile);
  if (values.task) items = items.filter((i) => i.task === values.task);
  const bundleDir = resolve(values.bundle ?? defaultBundleDir());
  const bundleTasks = new Set(Object.keys(readBundleConfig(bundleDir).tasks));
  const foreign = [...new Set(items.map((i) => i.task))].filter((t) => !bundleTasks.has(t));
  if (foreign.length) {
    process.stderr.write(`bench: leaving out items of task(s) ${foreign.join(", ")}: not in ${bundleDir}/bundle.json\n`);
    items = items.filter((i) => bundleTasks.has(i.task));
  }
  const limit = optInt(values.limit, "--limit");
  const perTask = optInt(values["per-task"], "--per-task") ?? (limit === undefined ? 10 : undefined);
  if (perTask !== undefined) {
    const seen = new Map<string, number>();
    items = items.filter((i) => {
      const n = (seen.get(i.task) ?? 0) + 1;
      seen.set(i.task, n);
      return n <= perTask;
    });
  }
  if (items.length === 0) throw new UsageError(`no items${values.task ? ` for task "${values.task}"` : ""} in ${itemsFile}`);
  const unknown = [...new Set(items.map((i) => i.task))].filter((t) => !checkerFor(t));
  if (unknown.length) throw new UsageError(`no checker for task(s) ${unknown.join(", ")}; known: arith, countdown, sudoku, code`);
  const rules = parseRules(values.rules ?? "full,calibrated", values.param ?? []);
  const out = values.out ?? join("bench", "results.json");
  const threads = optInt(values.threads, "--threads") ?? 1;
  if (threads < 1) throw new UsageError(`--threads expects an integer >= 1, got "${values.threads}"`);
  const n = Math.min(limit ?? items.length, items.length);
  process.stderr.write(`bench: ${n} items x ${rules.length} rule(s) on ${threads} thread(s); the progress line below estimates the time left\n`);
  const progress = createItemProgress(process.stderr, "bench");
  const results = await runBench({
    bundleDir,
    provider,
    threads,
    items,
    rules,
    limit,
    onItem: (done, total) => progress.update(done, total),
  });
  progress.done();
  results.reference = values["no-reference"] ? { skipped: "--no-reference" } : await referenceSection(results, items.slice(0, limit ?? items.length), threads);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 1) + "\n");
  const md = out.replace(/\.json$/, "") + ".md";
  writeFileSync(md, benchMarkdown(results));
  process.stdout.write(benchMarkdown(results));
  process.stderr.write(`bench: wrote ${out} and ${md}\n`);
  return 0;
}

async function replayCommand(values: { bundle?: string; threads?: string; keystrokes?: string; window?: string; out?: string }): Promise<number> {
  const threads = optInt(values.threads, "--threads") ?? 1;
  const keystrokes = optInt(values.keystrokes, "--keystrokes") ?? 60;
  const window = optInt(values.window, "--window") ?? 1024;
  if (threads < 1 || keystrokes < 1 || window < 64) throw new UsageError("--threads, --keystrokes >= 1 and --window >= 64 expected");
  const text = readFileSync(join(packageRoot(), "server", "src", "sampler", "denoise.ts"), "utf8");
  const results = await runTypingReplay({
    bundleDir: resolve(values.bundle ?? defaultBundleDir()),
    threads,
    text,
    from: Math.min(text.length - keystrokes - 1, window + 200),
    keystrokes,
    window,
    anchor: Math.max(1, Math.floor(window / 8)),
    genLength: 32,
    steps: 16,
    onProgress: (line) => process.stderr.write(line + "\n"),
  });
  const out = values.out ?? join("test-output", "bench", "typing-replay.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 1) + "\n");
  const md = out.replace(/\.json$/, "") + ".md";
  writeFileSync(md, replayMarkdown(results));
  process.stdout.write(replayMarkdown(results));
  process.stderr.write(`bench: wrote ${out} and ${md}\n`);
  return 0;
}

async function sweepCommand(values: { bundle?: string; threads?: string; prompts?: string; reps?: string; out?: string }): Promise<number> {
  const threads = optInt(values.threads, "--threads") ?? 1;
  const reps = optInt(values.reps, "--reps") ?? 3;
  if (threads < 1 || reps < 1) throw new UsageError("--threads and --reps expect integers >= 1");
  const promptTokens = (values.prompts ?? "64,256,1024,4096").split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--prompts expects comma-separated positive integers, got "${s}"`);
    return n;
  });
  const bundleDir = resolve(values.bundle ?? defaultBundleDir());
  // A real source file as the prompt text: the engine's own sampler.
  const text = readFileSync(join(packageRoot(), "server", "src", "sampler", "denoise.ts"), "utf8");
  const results = await runContextSweep({
    bundleDir,
    promptTokens,
    modes: ["none", "prefix", "dual"],
    reps,
    threads,
    text,
    onProgress: (line) => process.stderr.write(line + "\n"),
  });
  const out = values.out ?? join("test-output", "bench", "context-sweep.json");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 1) + "\n");
  const md = out.replace(/\.json$/, "") + ".md";
  writeFileSync(md, sweepMarkdown(results));
  process.stdout.write(sweepMarkdown(results));
  process.stderr.write(`bench: wrote ${out} and ${md}\n`);
  return 0;
}

async function referenceSection(results: BenchResults, items: TaskItem[], threads: number): Promise<ReferenceSection> {
  const root = packageRoot();
  const why = referenceUnavailable(root, results.bundleDir);
  if (why) {
    process.stderr.write(`bench: PyTorch reference skipped: ${why}\n`);
    return { skipped: why };
  }
  process.stderr.write(`bench: running the PyTorch reference sampler on the same ${items.length} items (${threads} thread(s))\n`);
  try {
    const calibratedRules = Object.values(readBundleConfig(results.bundleDir).tasks).map((t) => t.stop.rule);
    const ref = await runReferenceSpeed({ repoRoot: root, bundleDir: results.bundleDir, items, rules: results.rules, calibratedRules, params: results.params, threads });
    return compareWithReference(ref, results.results.all, threads);
  } catch (e) {
    const why = `reference sampler failed: ${(e as Error).message}`;
    process.stderr.write(`bench: ${why}\n`);
    return { skipped: why };
  }
}

export function parseRules(list: string, paramPairs: readonly string[]): BenchRuleSpec[] {
  const specs = list.split(",").map((s) => s.trim()).filter(Boolean);
  if (!specs.length) throw new UsageError("--rules needs at least one rule name");
  const rules: BenchRuleSpec[] = specs.map((spec) => ({ spec, params: {} as Record<string, ParamValue> }));
  for (const pair of paramPairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--param expects [rule:]key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    const value = parseParamValue(pair.slice(eq + 1));
    const colon = key.indexOf(":");
    if (colon > 0) {
      const target = rules.find((r) => r.spec === key.slice(0, colon));
      if (!target) throw new UsageError(`--param ${pair}: rule "${key.slice(0, colon)}" is not in --rules`);
      target.params[key.slice(colon + 1)] = value;
    } else {
      for (const r of rules) if (r.spec !== "full") r.params[key] = value;
    }
  }
  return rules;
}
