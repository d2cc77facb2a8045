/** `edit-dllm generate`: one prompt -> text on stdout (or JSON), a summary line on stderr, optional trace file. */
import { readBundleConfig } from "../bundle/load";
import { parseArgs } from "node:util";
import { DEFAULT_MAX_PROMPT_CHARS } from "../context-limit";
import type { GenerationTrace } from "../../../protocol/trace";
import { loadEngine } from "../engine";
import { UsageError } from "../errors";
import { isProviderChoice } from "../model/providers";
import { parseParamPairs } from "./params";
import { createProgress } from "./progress";
import { checkPromptNotEmpty, promptWarnings, unkIdOf } from "./prompt-checks";
import { checkTracePath, writeTrace } from "./trace-file";

export const GENERATE_USAGE = `usage: edit-dllm generate [--bundle DIR] [--provider auto|cpu|cuda|dml|coreml|webgpu] [--threads N]
                         [--task NAME] [--stop RULE] [--param key=value ...] [--raw]
                         [--gen-length N] [--block-length N] [--steps N] [--temperature T] [--seed S]
                         [--cache none|prefix|dual [--cache-refresh N]]
                         [--trace FILE [--force]] [--json] [--verbose] [--max-prompt-chars N] [PROMPT]
  PROMPT is read from stdin when absent. The task's template and calibrated stop rule apply unless overridden.
  --verbose: also say why \`auto\` did not pick each accelerator (\`edit-dllm doctor\` says the same).
  --threads: ONNX Runtime intra-op threads (default 1).
  --cache: K/V cache (Fast-dLLM): none (exact), prefix (prompt + finished blocks cached, refreshed at each
  block start), dual (the masked suffix too); default: the bundle's bundle.json generation.cache, else none.
  --cache-refresh N also refreshes every N forwards.
  A prompt + gen-length past the model's max_len is refused (exit 2) with both lengths, checked in characters
  before tokenizing; --max-prompt-chars (default 1048576) bounds the prompt and what is read from stdin.`;

export async function generateCommand(argv: string[], io: { stdin: (maxChars: number) => Promise<string> }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bundle: { type: "string" },
      provider: { type: "string" },
      threads: { type: "string" },
      task: { type: "string" },
      stop: { type: "string" },
      param: { type: "string", multiple: true },
      raw: { type: "boolean" },
      "gen-length": { type: "string" },
      "block-length": { type: "string" },
      steps: { type: "string" },
      temperature: { type: "string" },
      seed: { type: "string" },
      cache: { type: "string" },
      "cache-refresh": { type: "string" },
      trace: { type: "string" },
      force: { type: "boolean" },
      json: { type: "boolean" },
      "max-prompt-chars": { type: "string" },
      verbose: { type: "boolean", short: "v" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(GENERATE_USAGE + "\n");
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`generate takes one PROMPT (quote it), got ${positionals.length} words`);
  const provider = values.provider ?? "auto";
  if (!isProviderChoice(provider)) throw new UsageError(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu; got "${provider}"`);
  // Checked before the model loads: a refused --trace costs nothing.
  if (values.trace) checkTracePath(values.trace, values.force === true);
  if (values.force && !values.trace) throw new UsageError("--force only applies to --trace FILE");
  // No --cache: the bundle's own choice (bundle.json generation.cache, else none).
  const cache = values.cache;
  if (cache !== undefined && cache !== "none" && cache !== "prefix" && cache !== "dual") throw new UsageError(`--cache must be one of none, prefix, dual; got "${cache}"`);
  const cacheRefreshEvery = optInt(values["cache-refresh"], "--cache-refresh") ?? null;
  if (cacheRefreshEvery !== null && cacheRefreshEvery < 1) throw new UsageError(`--cache-refresh expects an integer >= 1, got "${values["cache-refresh"]}"`);
  const maxPromptChars = optInt(values["max-prompt-chars"], "--max-prompt-chars") ?? DEFAULT_MAX_PROMPT_CHARS;
  if (maxPromptChars < 1) throw new UsageError(`--max-prompt-chars expects an integer >= 1, got "${values["max-prompt-chars"]}"`);
  const prompt = positionals[0] ?? (await io.stdin(maxPromptChars)).replace(/\r?\n$/, "");
  checkPromptNotEmpty(prompt);
  const engine = await loadEngine({ bundleDir: values.bundle, provider, threads: optInt(values.threads, "--threads") });
  try {
    const genLength = optInt(values["gen-length"], "--gen-length");
    const blockLength = optInt(values["block-length"], "--block-length");
    const steps = optInt(values.steps, "--steps");
    const progress = createProgress(process.stderr, blockCount(engine.info.bundleDir, genLength, blockLength));
    const { text, trace } = await engine.generate({
      prompt,
      task: values.task,
      stop: values.stop,
      params: parseParamPairs(values.param ?? []),
      raw: values.raw,
      genLength,
      blockLength,
      steps,
      temperature: optNum(values.temperature, "--temperature"),
      seed: optInt(values.seed, "--seed"),
      ...(cache !== undefined ? { cache } : {}),
      cacheRefreshEvery,
      maxPromptChars,
      onStep: (e) => progress.onStep(e),
    });
    progress.done();
    if (values.json) process.stdout.write(JSON.stringify({ text, trace }) + "\n");
    else process.stdout.write(text + "\n");
    // After the text: a trace that cannot be written (checked before the run) never loses the answer.
    if (values.trace) writeTrace(values.trace, JSON.stringify(trace, null, 1) + "\n", values.force === true);
    // Why not the GPU is install advice: on a CPU machine it would repeat on every run, so only
    // --verbose says it here (doctor and the editor's status tooltip always do).
    if (values.verbose) for (const note of engine.info.providerNotes ?? []) process.stderr.write(`provider ${trace.provider}, not ${note}\n`);
    process.stderr.write(summaryLine(trace) + "\n");
    const facts = { prompt, task: values.task, raw: values.raw === true, promptIds: trace.promptIds, unkId: unkIdOf(engine.info.bundleDir) };
    for (const w of promptWarnings({ ...facts, defaultTask: engine.info.defaultTask, tasks: engine.info.tasks })) process.stderr.write(`warning: ${w}\n`);
    return 0;
  } finally {
    await engine.dispose();
  }
}

/**
 * "forwards 4/32 (12.5%), 28 saved: 16 by skipping block 2 after eos, 12 by committing tokens in parallel |
 * blocks stopped 0/1, certified 0/0 | rule jot | cpu | 99 ms": the saved forwards are attributed to
 * why each block ended (BlockTrace.endedBy), so a reader can tell an early stop from eos skipping.
 */
export function summaryLine(t: GenerationTrace): string {
  const stopped = t.blocks.filter((b) => b.stopStep !== null);
  const certified = stopped.filter((b) => b.certificate?.thm4).length;
  const generated = t.blocks.filter((b) => b.endedBy !== "eos-skip").length;
  const pct = t.totals.budget ? ((100 * t.totals.forwards) / t.totals.budget).toFixed(1) : "0";
  return (
    `forwards ${t.totals.forwards}/${t.totals.budget} (${pct}%)${savedClause(t)} | blocks stopped ${stopped.length}/${generated}, ` +
    `certified ${certified}/${stopped.length} | rule ${t.rule} | ${t.provider} | ${t.totals.wallMs.toFixed(0)} ms`
  );
}

/** ", 28 saved: 16 by skipping block 2 after eos, 12 by ..." or "" when every block ran its budget. */
export function savedClause(t: GenerationTrace): string {
  const by = { "eos-skip": 0, "stop-rule": 0, "all-committed": 0 };
  const skipped: number[] = [];
  for (const b of t.blocks) {
    const saved = Math.max(0, b.budget - b.stepsUsed);
    if (b.endedBy === "budget" || saved === 0) continue;
    by[b.endedBy] += saved;
    if (b.endedBy === "eos-skip") skipped.push(b.index + 1);
  }
  const parts: string[] = [];
  if (by["stop-rule"] > 0) parts.push(`${by["stop-rule"]} by the rule's early stop`);
  if (by["all-committed"] > 0) parts.push(`${by["all-committed"]} by committing tokens in parallel`);
  if (by["eos-skip"] > 0) parts.push(`${by["eos-skip"]} by skipping block${skipped.length > 1 ? "s" : ""} ${skipped.join(", ")} after eos`);
  const total = by["eos-skip"] + by["stop-rule"] + by["all-committed"];
  return total > 0 ? `, ${total} saved: ${parts.join(", ")}` : "";
}

export function optInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer, got "${v}"`);
  return n;
}

export function optNum(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got "${v}"`);
  return n;
}

/** Blocks of this run for the progress bar: the request's lengths over the bundle's generation defaults. */
function blockCount(bundleDir: string, genLength?: number, blockLength?: number): number {
  const g = readBundleConfig(bundleDir).generation;
  return Math.max(1, Math.floor((genLength ?? g.gen_length) / (blockLength ?? g.block_length)));
}
