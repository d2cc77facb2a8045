/**
 * The context sweep (issue 11 item 7): prompt length x K/V cache mode, measured side by side in one run
 * (the modes interleave per repetition, so machine load hits them alike). Per cell: median ms per forward,
 * median ms per completion, forwards per completion and the per-completion speed-up over `none`.
 *
 * Each completion is a raw prompt of the given token count (a real source text repeated) and the bundle's
 * generation settings with the `full` rule (every block runs its whole budget), so the forward count is the
 * same in every mode and the ratio is the cost per forward. The cross-request prompt cache is off here
 * (a repeated prompt would otherwise be served from it); bench/typing-replay measures it.
 */
import type { CacheMode } from "../../../server/src/public";
import { loadEngine } from "../../../server/src/public";
import { readBundleConfig } from "../../../server/src/public";
import { median } from "./stats-util";

export interface SweepOptions {
  bundleDir: string;
  /** Prompt lengths in tokens; those over the model's max_len (minus gen) are reported as skipped. */
  promptTokens: number[];
  modes: CacheMode[];
  reps: number;
  threads: number;
  /** Text the prompts are cut from (repeated as needed). */
  text: string;
  onProgress?: (line: string) => void;
}

export interface SweepCell {
  promptTokens: number;
  mode: CacheMode;
  forwards: number;
  /** Tokens computed per forward, mean over the completion (the trace's forwardTokens). */
  tokensPerForward: number;
  msPerForward: number;
  msPerCompletion: number;
  /** none's msPerCompletion / this cell's (same prompt length). */
  speedupVsNone: number | null;
}

export interface SweepResults {
  bundle: string;
  generatedAt: string;
  threads: number;
  reps: number;
  genLength: number;
  blockLength: number;
  steps: number;
  maxLen: number | null;
  cells: SweepCell[];
  skipped: { promptTokens: number; why: string }[];
}

export async function runContextSweep(o: SweepOptions): Promise<SweepResults> {
  const config = readBundleConfig(o.bundleDir);
  const { gen_length: genLength, block_length: blockLength, steps } = config.generation;
  const maxLen = config.model.max_len ?? null;
  const engine = await loadEngine({ bundleDir: o.bundleDir, provider: "cpu", threads: o.threads, promptCacheBytes: 0 });
  const skipped: SweepResults["skipped"] = [];
  const cells: SweepCell[] = [];
  try {
    for (const n of o.promptTokens) {
      if (maxLen !== null && n + genLength > maxLen) {
        skipped.push({ promptTokens: n, why: `prompt ${n} + gen ${genLength} > max_len ${maxLen}` });
        continue;
      }
      const prompt = cut(o.text, n);
      const runs = new Map<CacheMode, { wall: number[]; perForward: number[]; forwards: number; tokens: number }>();
      for (const m of o.modes) runs.set(m, { wall: [], perForward: [], forwards: 0, tokens: 0 });
      // One warm-up completion per mode (session buffers for the new shapes), then interleaved repetitions.
      for (let rep = -1; rep < o.reps; rep++) {
        for (const mode of o.modes) {
          const t0 = performance.now();
          const { trace } = await engine.generate({ prompt, raw: true, stop: "full", cache: mode });
          const wall = performance.now() - t0;
          if (rep < 0) continue;
          const r = runs.get(mode)!;
          r.wall.push(wall);
          r.perForward.push(trace.totals.forwardMs / Math.max(1, trace.totals.forwards));
          r.forwards = trace.totals.forwards;
          const steps = trace.blocks.flatMap((b) => b.steps);
          r.tokens = steps.reduce((a, s) => a + (s.forwardTokens ?? trace.promptIds.length + genLength), 0) / Math.max(1, steps.length);
        }
      }
      const none = runs.get("none") ? median(runs.get("none")!.wall) : null;
      for (const mode of o.modes) {
        const r = runs.get(mode)!;
        const ms = median(r.wall);
        cells.push({
          promptTokens: n,
          mode,
          forwards: r.forwards,
          tokensPerForward: r.tokens,
          msPerForward: median(r.perForward),
          msPerCompletion: ms,
          speedupVsNone: none === null ? null : none / ms,
        });
        o.onProgress?.(`sweep: prompt ${n} ${mode}: ${ms.toFixed(1)} ms/completion, ${median(r.perForward).toFixed(2)} ms/forward`);
      }
    }
  } finally {
    await engine.dispose();
  }
  return { bundle: config.name, generatedAt: new Date().toISOString(), threads: o.threads, reps: o.reps, genLength, blockLength, steps, maxLen, cells, skipped };
}

/** The first n characters of `text` repeated (char-level bundles: n tokens). */
function cut(text: string, n: number): string {
  if (!text.length) throw new RangeError("context sweep: empty source text");
  let s = text;
  while (s.length < n) s += text;
  return s.slice(0, n);
}

export function sweepMarkdown(r: SweepResults): string {
  const lines = [
    `## Context sweep: ${r.bundle}, ${r.threads} thread(s), median of ${r.reps}, gen ${r.genLength} in blocks of ${r.blockLength}, ${r.steps} forwards, rule full`,
    "",
    "| prompt tokens | cache | tokens/forward | ms/forward | ms/completion | speed-up vs none |",
    "|---:|---|---:|---:|---:|---:|",
  ];
  for (const c of r.cells) {
    lines.push(
      `| ${c.promptTokens} | ${c.mode} | ${c.tokensPerForward.toFixed(0)} | ${c.msPerForward.toFixed(2)} | ${c.msPerCompletion.toFixed(1)} | ${c.speedupVsNone === null ? "–" : c.speedupVsNone.toFixed(2) + "x"} |`,
    );
  }
  for (const s of r.skipped) lines.push(``, `Skipped prompt ${s.promptTokens}: ${s.why}.`);
  return lines.join("\n") + "\n";
}
