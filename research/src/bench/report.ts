/** bench/results.md: one table row per task and rule, plus the oracle row. */
import type { BenchResults, RuleMetrics } from "./run";

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

export function benchMarkdown(r: BenchResults): string {
  const lines = [
    `# Bench: ${r.bundle} on ${r.provider}`,
    "",
    `Generated ${r.generatedAt}. Rules: ${r.rules.join(", ")}. "Oracle" = the earliest step per block after which the`,
    "full run's argmax-fill output no longer changes (the fewest forwards any stop rule could use without changing the output).",
    "",
    "| task | rule | items | accuracy | forwards/block | reduction vs full | certified stops | tokens/s | bookkeeping share |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const task of [...r.tasks, "all"]) {
    const rows = r.results[task] ?? {};
    for (const [rule, m] of Object.entries(rows)) lines.push(row(task, rule, m));
    const o = r.oracle[task];
    if (o) lines.push(`| ${task} | oracle | | | ${o.avgForwardsPerBlock.toFixed(2)} | ${pct(o.reductionVsFull)} | | | |`);
  }
  lines.push("", ...referenceLines(r));
  return lines.join("\n") + "\n";
}

function referenceLines(r: BenchResults): string[] {
  const ref = r.reference;
  if (!ref) return [];
  if ("skipped" in ref) return ["## Speed vs the PyTorch reference sampler", "", `Skipped: ${ref.skipped}.`];
  const lines = [
    "## Speed vs the PyTorch reference sampler",
    "",
    `Same items, rules, rule params and generation settings, batch 1, ${ref.threads} thread(s) each (ONNX Runtime`,
    "intra-op threads / torch.set_num_threads). Ratio = engine tokens/s / reference tokens/s (> 1: the engine is faster).",
    "",
    "| rule | items | engine tokens/s | reference tokens/s | ratio | engine forwards | reference forwards |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [rule, x] of Object.entries(ref.rules)) {
    lines.push(
      `| ${rule} | ${x.items} | ${x.engineTokensPerSec.toFixed(1)} | ${x.tokensPerSec.toFixed(1)} | ` +
        `${x.ratio === null ? "n/a" : x.ratio.toFixed(2) + "x"} | ${x.engineForwards} | ${x.forwards} |`,
    );
  }
  return lines;
}

function row(task: string, rule: string, m: RuleMetrics): string {
  const cert = m.stops ? `${m.certifiedStops}/${m.stops} (${pct(m.certifiedFraction)})` : "no stops";
  return (
    `| ${task} | ${rule} | ${m.items} | ${pct(m.accuracy)} | ${m.avgForwardsPerBlock.toFixed(2)} | ${pct(m.reductionVsFull)} | ` +
    `${cert} | ${m.tokensPerSec.toFixed(1)} | ${pct(m.bookkeepingShare)} |`
  );
}
