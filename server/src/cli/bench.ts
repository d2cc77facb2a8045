/** `edit-dllm bench`: runs full + the given rules over task items; writes results JSON + Markdown. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import type { ParamValue } from "../../../protocol/lsp";
import { loadItems } from "../bench/items";
import { benchMarkdown } from "../bench/report";
import { runBench, type BenchRuleSpec } from "../bench/run";
import { packageRoot } from "../bundle/locate";
import { UsageError } from "../errors";
import { isProviderChoice } from "../model/providers";
import { checkerFor } from "../tasks/index";
import { optInt } from "./generate";
import { parseParamValue } from "./params";

export const BENCH_USAGE = `usage: edit-dllm bench [--bundle DIR] [--provider P] [--threads N] [--items FILE] [--task NAME]
                      [--rules full,edit,...] [--param [rule:]key=value ...] [--limit N] [--out bench/results.json]
  --items: JSONL (or a JSON array) of {task, prompt, answer}; default bench/test-items.jsonl.
  --rules: comma-separated specs; "calibrated" = each task's calibrated rule from bundle.json. full always runs.
  --param rule:key=value applies to that rule only; key=value to every rule but full.`;

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
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  void positionals;
  if (values.help) {
    process.stdout.write(BENCH_USAGE + "\n");
    return 0;
  }
  const provider = values.provider ?? "auto";
  if (!isProviderChoice(provider)) throw new UsageError(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu; got "${provider}"`);
  const itemsFile = values.items ?? join(packageRoot(), "bench", "test-items.jsonl");
  if (!existsSync(itemsFile)) throw new UsageError(`no items file ${itemsFile}: pass --items FILE (JSONL of {task, prompt, answer})`);
  let items = loadItems(itemsFile);
  if (values.task) items = items.filter((i) => i.task === values.task);
  if (items.length === 0) throw new UsageError(`no items${values.task ? ` for task "${values.task}"` : ""} in ${itemsFile}`);
  const unknown = [...new Set(items.map((i) => i.task))].filter((t) => !checkerFor(t));
  if (unknown.length) throw new UsageError(`no checker for task(s) ${unknown.join(", ")}; known: arith, countdown, sudoku, code`);
  const rules = parseRules(values.rules ?? "full,calibrated", values.param ?? []);
  const out = values.out ?? join("bench", "results.json");
  const limit = optInt(values.limit, "--limit");
  const results = await runBench({
    bundleDir: values.bundle,
    provider,
    threads: optInt(values.threads, "--threads"),
    items,
    rules,
    limit,
    onItem: (done, total) => process.stderr.isTTY && process.stderr.write(`\rbench: ${done}/${total} items\x1b[K`),
  });
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(results, null, 1) + "\n");
  const md = out.replace(/\.json$/, "") + ".md";
  writeFileSync(md, benchMarkdown(results));
  process.stdout.write(benchMarkdown(results));
  process.stderr.write(`bench: wrote ${out} and ${md}\n`);
  return 0;
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
