/**
 * Calibrates the inline confidence gate (server/src/daemon/inline-gate.ts) on the code task's val
 * split: runs every val item as the daemon runs an inline completion (task `code`, the task's
 * calibrated rule, one line of answer), records the top-1 probability of each generated token at the
 * forward that committed it, and writes, per threshold, the share of items shown and the share of
 * shown completions that are right (exact line; or useful: a non-empty prefix of the true line).
 *
 *   node --import tsx scripts/inline-gate-curve.ts [--items bench/items/val.jsonl] [--bundle DIR]
 *     [--out docs/inline-gate-curve.json] [--svg docs/figures/inline-gate-curve.svg] [--limit N]
 *
 * The probabilities are taken here from the forward results (a wrapper model), not from the trace:
 * the trace field `committedProbs` is optional and filled only by samplers that record it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadBundle } from "../server/src/bundle/load";
import { defaultBundleDir } from "../server/src/bundle/locate";
import { loadEngine } from "../server/src/engine";
import { createOnnxModel } from "../server/src/model/onnx-model";
import type { DllmModel, ForwardResult } from "../server/src/model/types";
import { codeTaskAnswer } from "../server/src/daemon/inline-prompt";
import { gateStatistic } from "../server/src/daemon/inline-gate";

const { values } = parseArgs({
  options: {
    items: { type: "string", default: "bench/items/val.jsonl" },
    bundle: { type: "string" },
    out: { type: "string", default: "docs/inline-gate-curve.json" },
    limit: { type: "string" },
    svg: { type: "string" },
  },
});

/** Softmax probability of `id` in one logits row (max-subtracted). */
function rowProb(logits: Float32Array, off: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[off + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
  return Math.exp(logits[off + id] - max) / sum;
}

interface CurvePoint {
  threshold: number;
  shareShown: number;
  charsRightAmongShown: number | null;
  exactAmongShown: number | null;
}

/** Share shown (x) against the share of shown characters that are right (y), one line per statistic. */
function curveSvg(mean: CurvePoint[], min: CurvePoint[]): string {
  const W = 520, H = 320, L = 60, B = 40, T = 20, R = 20;
  const x = (v: number) => L + v * (W - L - R);
  const y = (v: number) => H - B - v * (H - B - T);
  const line = (pts: CurvePoint[], color: string, label: string, dy: number) => {
    const ok = pts.filter((p) => p.charsRightAmongShown !== null);
    const d = ok.map((p) => `${x(p.shareShown).toFixed(1)},${y(p.charsRightAmongShown!).toFixed(1)}`).join(" ");
    const dots = ok.map((p) => `<circle cx="${x(p.shareShown).toFixed(1)}" cy="${y(p.charsRightAmongShown!).toFixed(1)}" r="3" fill="${color}"><title>threshold ${p.threshold}</title></circle>`).join("");
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${d}"/>${dots}<text x="${W - R - 150}" y="${T + 14 + dy}" fill="${color}" font-size="12">${label}</text>`;
  };
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((v) => `<text x="${x(v)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${v * 100}%</text><text x="${L - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v * 100}%</text>`)
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>
${ticks}
<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="12" text-anchor="middle">share of val completions shown</text>
<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" font-size="12" text-anchor="middle">shown characters right</text>
${line(mean, "#1f77b4", "mean top-1 probability", 0)}${line(min, "#d62728", "min top-1 probability", 16)}
</svg>
`;
}

async function main(): Promise<void> {
  const bundleDir = resolve(values.bundle ?? defaultBundleDir());
  const bundle = loadBundle(bundleDir);
  const onnx = await createOnnxModel(bundle.modelPath, { provider: "cpu", threads: 1, probes: bundle.config.probes });
  let last: ForwardResult | null = null;
  const model: DllmModel = {
    provider: onnx.provider,
    forward: async (ids, req) => (last = await onnx.forward(ids, req)),
    dispose: () => onnx.dispose(),
  };
  const engine = await loadEngine({ bundleDir }, { model });
  const items = readFileSync(values.items!, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { task: string; prompt: string; answer: string })
    .filter((it) => it.task === "code")
    .slice(0, values.limit ? Number(values.limit) : undefined);

  const rows: { mean: number; min: number; exact: boolean; useful: boolean; chars: number; charsRight: number }[] = [];
  for (const it of items) {
    const probs = new Map<number, number>();
    const res = await engine.generate({
      task: "code",
      prompt: it.prompt,
      onStep: (e) => {
        const f = last!;
        const rowStart = (f as { rowStart?: number }).rowStart ?? 0;
        e.step.committed.forEach((p, i) => probs.set(p, rowProb(f.logits, (p - rowStart) * f.vocab, f.vocab, e.step.committedIds[i])));
      },
    });
    const answer = codeTaskAnswer(res.text);
    if (!answer) {
      rows.push({ mean: 0, min: 0, exact: false, useful: false, chars: 0, charsRight: 0 });
      continue;
    }
    const first = res.trace.promptIds.length;
    const p: number[] = [];
    for (let q = first; q < first + answer.length; q++) p.push(probs.get(q) ?? 0);
    const truth = it.answer.replace(/\s+$/, "");
    rows.push({
      mean: gateStatistic(p, "mean"),
      min: gateStatistic(p, "min"),
      exact: answer.replace(/\s+$/, "") === truth,
      useful: answer.trim() !== "" && truth.startsWith(answer),
      chars: answer.length,
      charsRight: [...answer].filter((c, i) => truth[i] === c).length,
    });
  }
  await engine.dispose();

  const thresholds = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99];
  const curve = (stat: "mean" | "min") =>
    thresholds.map((t) => {
      const shown = rows.filter((r) => r.chars > 0 && r[stat] >= t);
      return {
        threshold: t,
        shown: shown.length,
        shareShown: shown.length / rows.length,
        exactAmongShown: shown.length ? shown.filter((r) => r.exact).length / shown.length : null,
        usefulAmongShown: shown.length ? shown.filter((r) => r.useful).length / shown.length : null,
        /** Shown characters equal to the true line's character at the same place. */
        charsRightAmongShown: shown.length ? shown.reduce((a, r) => a + r.charsRight, 0) / shown.reduce((a, r) => a + r.chars, 0) : null,
      };
    });
  const out = {
    bundle: bundle.config.name,
    items: values.items,
    n: rows.length,
    rule: bundle.config.tasks.code?.stop.rule ?? null,
    nonEmpty: rows.filter((r) => r.chars > 0).length,
    exact: rows.filter((r) => r.exact).length,
    useful: rows.filter((r) => r.useful).length,
    mean: curve("mean"),
    min: curve("min"),
  };
  writeFileSync(values.out!, JSON.stringify(out, null, 2) + "\n");
  if (values.svg) writeFileSync(values.svg, curveSvg(out.mean, out.min));
  console.log(JSON.stringify({ ...out, mean: undefined, min: undefined }));
  for (const stat of ["mean", "min"] as const) {
    console.log(`\n${stat}: threshold | shown | share shown | exact among shown | useful among shown | chars right among shown`);
    for (const c of out[stat]) {
      const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)} %`);
      console.log(`${c.threshold} | ${c.shown} | ${pct(c.shareShown)} | ${pct(c.exactAmongShown)} | ${pct(c.usefulAmongShown)} | ${pct(c.charsRightAmongShown)}`);
    }
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
