/**
 * Typing replay (issue 11 item 4): a real source file typed character by character; at every keystroke one
 * completion of the text before the cursor (window anchored so that consecutive prompts share their start,
 * see anchoredWindowStart). Configurations run side by side per keystroke: `none`, `prefix` without the
 * cross-request prompt cache, `prefix` with it. Reported: prompt-cache hit rate and reused tokens, completion
 * latency p50 / p95.
 */
import { loadEngine } from "../../../server/src/public";
import type { CacheMode, Engine } from "../../../server/src/public";
import { anchoredWindowStart } from "../../../server/src/public";
import { quantile } from "./stats-util";

export interface ReplayOptions {
  bundleDir: string;
  threads: number;
  /** The file's text; typing starts at `from` and types `keystrokes` characters. */
  text: string;
  from: number;
  keystrokes: number;
  /** Prompt window in characters and the anchor step (char-level bundles: tokens). */
  window: number;
  anchor: number;
  genLength: number;
  steps: number;
  onProgress?: (line: string) => void;
}

export interface ReplayRow {
  config: string;
  completions: number;
  p50Ms: number;
  p95Ms: number;
  meanForwardTokens: number;
  /** Prompt-cache lookups that found a shared prefix / lookups (null without the cache). */
  hitRate: number | null;
  reusedTokensPerCompletion: number | null;
}

export interface ReplayResults {
  bundle: string;
  generatedAt: string;
  threads: number;
  keystrokes: number;
  window: number;
  anchor: number;
  genLength: number;
  steps: number;
  rows: ReplayRow[];
}

interface Config {
  name: string;
  cache: CacheMode;
  engine: Engine;
  stats?: () => { lookups: number; hits: number; reusedTokens: number } | null;
}

export async function runTypingReplay(o: ReplayOptions): Promise<ReplayResults> {
  const make = (promptCacheBytes: number) => loadEngine({ bundleDir: o.bundleDir, provider: "cpu", threads: o.threads, promptCacheBytes });
  const plain = await make(0);
  const withLru = await make(64 * 1024 * 1024);
  const configs: Config[] = [
    { name: "none", cache: "none", engine: plain },
    { name: "prefix", cache: "prefix", engine: plain },
    { name: "prefix + prompt cache", cache: "prefix", engine: withLru, stats: () => withLru.promptCacheStats?.() ?? null },
  ];
  const lat = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  const tokens = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  let bundle = "";
  try {
    for (let k = 0; k < o.keystrokes; k++) {
      const cursor = o.from + k + 1;
      const start = anchoredWindowStart(cursor, o.window, o.anchor);
      const prompt = o.text.slice(start, cursor);
      for (const c of configs) {
        const t0 = performance.now();
        const { trace } = await c.engine.generate({ prompt, raw: true, stop: "full", cache: c.cache, genLength: o.genLength, blockLength: o.genLength, steps: o.steps, overflow: "truncate" });
        lat.get(c.name)!.push(performance.now() - t0);
        const steps = trace.blocks.flatMap((b) => b.steps);
        tokens.get(c.name)!.push(steps.reduce((a, s) => a + (s.forwardTokens ?? 0), 0) / Math.max(1, steps.length));
        bundle = trace.bundle;
      }
      if ((k + 1) % 10 === 0) o.onProgress?.(`replay: ${k + 1}/${o.keystrokes} keystrokes`);
    }
  } finally {
    await plain.dispose();
    await withLru.dispose();
  }
  const rows: ReplayRow[] = configs.map((c) => {
    const l = lat.get(c.name)!;
    const s = c.stats?.() ?? null;
    return {
      config: c.name,
      completions: l.length,
      p50Ms: quantile(l, 0.5),
      p95Ms: quantile(l, 0.95),
      meanForwardTokens: l.length ? tokens.get(c.name)!.reduce((a, b) => a + b, 0) / l.length : NaN,
      hitRate: s ? s.hits / Math.max(1, s.lookups) : null,
      reusedTokensPerCompletion: s ? s.reusedTokens / Math.max(1, l.length) : null,
    };
  });
  return { bundle, generatedAt: new Date().toISOString(), threads: o.threads, keystrokes: o.keystrokes, window: o.window, anchor: o.anchor, genLength: o.genLength, steps: o.steps, rows };
}

export function replayMarkdown(r: ReplayResults): string {
  const lines = [
    `## Typing replay: ${r.bundle}, ${r.keystrokes} keystrokes, prompt window ${r.window} (anchored every ${r.anchor}), gen ${r.genLength} in ${r.steps} forwards, ${r.threads} thread(s)`,
    "",
    "| configuration | completions | p50 ms | p95 ms | tokens/forward | prompt-cache hit rate | reused prompt tokens/completion |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const x of r.rows) {
    lines.push(
      `| ${x.config} | ${x.completions} | ${x.p50Ms.toFixed(1)} | ${x.p95Ms.toFixed(1)} | ${x.meanForwardTokens.toFixed(0)} | ${x.hitRate === null ? "–" : (100 * x.hitRate).toFixed(1) + " %"} | ${x.reusedTokensPerCompletion === null ? "–" : x.reusedTokensPerCompletion.toFixed(0)} |`,
    );
  }
  return lines.join("\n") + "\n";
}
