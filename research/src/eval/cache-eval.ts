/**
 * The K/V cache as an evaluation dimension (issue 11 item 6): the same items, the same stop rule, cache
 * modes `none` (exact) vs `prefix` / `dual` (Fast-dLLM's approximations: cached K/V go stale within a
 * block). Per split, task, rule and mode: accuracy (Wilson 95 % interval), forwards per completion,
 * forward milliseconds, and the exact McNemar test against `none` on the paired items.
 * The decision rule: a cache mode may become the default only if its val accuracy (all tasks pooled) is
 * within `tolerance` (1 point) of `none`'s.
 */
import { loadEngine } from "../../../server/src/public";
import type { CacheMode } from "../../../server/src/public";
import { scorerFor, type TaskItem } from "../../../server/src/public";
import { mcnemarExact, pairedCounts, wilson } from "./stats";

export interface CacheEvalOptions {
  bundleDir: string;
  threads: number;
  splits: { name: string; items: TaskItem[] }[];
  modes: CacheMode[];
  /** Rule specs; "calibrated" = each task's calibrated rule. */
  rules: string[];
  refreshEvery: number | null;
  tolerance: number;
  onProgress?: (line: string) => void;
}

export interface CacheEvalCell {
  split: string;
  task: string;
  rule: string;
  mode: CacheMode;
  items: number;
  accuracy: number;
  ci95: [number, number];
  forwardsPerCompletion: number;
  forwardMsPerCompletion: number;
  /** Against `none` on the same items: only-none-right, only-this-right, exact McNemar p. */
  vsNone: { onlyNone: number; onlyThis: number; p: number } | null;
}

export interface CacheEvalResults {
  bundle: string;
  generatedAt: string;
  refreshEvery: number | null;
  tolerance: number;
  cells: CacheEvalCell[];
  /** Per rule and mode: val accuracy pooled over tasks minus none's, and whether it keeps the tolerance. */
  decision: { rule: string; mode: CacheMode; valDelta: number; keeps: boolean }[];
}

export async function runCacheEval(o: CacheEvalOptions): Promise<CacheEvalResults> {
  const engine = await loadEngine({ bundleDir: o.bundleDir, provider: "cpu", threads: o.threads, promptCacheBytes: 0 });
  const cells: CacheEvalCell[] = [];
  const pooled = new Map<string, boolean[]>(); // `${rule}|${mode}` -> val outcomes in item order
  try {
    for (const split of o.splits) {
      const tasks = [...new Set(split.items.map((i) => i.task))];
      for (const task of tasks) {
        const check = scorerFor(task);
        const items = split.items.filter((i) => i.task === task);
        for (const rule of o.rules) {
          const outcomes = new Map<CacheMode, { correct: boolean[]; forwards: number[]; ms: number[] }>();
          for (const mode of o.modes) outcomes.set(mode, { correct: [], forwards: [], ms: [] });
          for (const item of items) {
            for (const mode of o.modes) {
              const { text, trace } = await engine.generate({
                prompt: item.prompt,
                task,
                ...(rule === "calibrated" ? {} : { stop: rule }),
                cache: mode,
                cacheRefreshEvery: o.refreshEvery,
              });
              const r = outcomes.get(mode)!;
              r.correct.push(check(item, text));
              r.forwards.push(trace.totals.forwards);
              r.ms.push(trace.totals.forwardMs);
            }
          }
          const none = outcomes.get("none");
          for (const mode of o.modes) {
            const r = outcomes.get(mode)!;
            const k = r.correct.filter(Boolean).length;
            let vsNone: CacheEvalCell["vsNone"] = null;
            if (none && mode !== "none") {
              const pc = pairedCounts(none.correct, r.correct);
              vsNone = { onlyNone: pc.onlyA, onlyThis: pc.onlyB, p: mcnemarExact(pc.onlyA, pc.onlyB) };
            }
            cells.push({
              split: split.name,
              task,
              rule,
              mode,
              items: items.length,
              accuracy: k / Math.max(1, items.length),
              ci95: wilson(k, items.length),
              forwardsPerCompletion: mean(r.forwards),
              forwardMsPerCompletion: mean(r.ms),
              vsNone,
            });
            if (split.name === "val") pooled.set(`${rule}|${mode}`, [...(pooled.get(`${rule}|${mode}`) ?? []), ...r.correct]);
            o.onProgress?.(`${split.name} ${task} ${rule} ${mode}: ${((100 * k) / items.length).toFixed(1)} % at ${mean(r.forwards).toFixed(2)} forwards, ${mean(r.ms).toFixed(1)} ms`);
          }
        }
      }
    }
  } finally {
    await engine.dispose();
  }
  const decision: CacheEvalResults["decision"] = [];
  for (const rule of o.rules) {
    const base = pooled.get(`${rule}|none`);
    for (const mode of o.modes) {
      const mine = pooled.get(`${rule}|${mode}`);
      if (mode === "none" || !base || !mine) continue;
      const delta = (mine.filter(Boolean).length - base.filter(Boolean).length) / Math.max(1, base.length);
      decision.push({ rule, mode, valDelta: delta, keeps: delta >= -o.tolerance });
    }
  }
  const bundle = engineName(o.bundleDir);
  return { bundle, generatedAt: new Date().toISOString(), refreshEvery: o.refreshEvery, tolerance: o.tolerance, cells, decision };
}

function engineName(dir: string): string {
  return dir.split(/[\\/]/).filter(Boolean).pop() ?? dir;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export function cacheEvalMarkdown(r: CacheEvalResults): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const lines = [
    `## K/V cache modes on ${r.bundle} (refresh ${r.refreshEvery === null ? "at block starts" : `every ${r.refreshEvery} forwards`})`,
    "",
    "| split | task | rule | cache | items | accuracy (95 % CI) | forwards | forward ms | vs none: only none / only this, McNemar p |",
    "|---|---|---|---|---:|---|---:|---:|---|",
  ];
  for (const c of r.cells) {
    lines.push(
      `| ${c.split} | ${c.task} | ${c.rule} | ${c.mode} | ${c.items} | ${pct(c.accuracy)} % (${pct(c.ci95[0])}–${pct(c.ci95[1])}) | ${c.forwardsPerCompletion.toFixed(2)} | ${c.forwardMsPerCompletion.toFixed(1)} | ${c.vsNone ? `${c.vsNone.onlyNone} / ${c.vsNone.onlyThis}, p = ${c.vsNone.p.toPrecision(2)}` : "–"} |`,
    );
  }
  lines.push("", `Decision (val, all tasks pooled; a mode may become the default only within ${pct(r.tolerance)} points of none):`, "");
  for (const d of r.decision) lines.push(`- ${d.rule} / ${d.mode}: ${d.valDelta >= 0 ? "+" : ""}${pct(d.valDelta)} points: ${d.keeps ? "keeps accuracy" : "loses accuracy: the default stays none"}`);
  return lines.join("\n") + "\n";
}
