/**
 * The engine on the 8B-shaped 2-layer bundles (python -m edit_dllm.arch.big_shape): load, one forward at
 * a 1k-token context (no past), one 32-token block forward against its K/V (the prefix cache), at 1 and
 * 2 threads, then one generated block with a 1k-token prompt and the prefix cache; RSS after each step,
 * K/V bytes per token from the returned K/V. Appends to bench/big-shape.json.
 *
 *     node --import tsx scripts/big-shape-run.ts models/big-shape/llada-2l-fp16 [--threads 1,2|none] [--steps 8]
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadBundle } from "../server/src/bundle/load";
import { loadEngine } from "../server/src/engine";
import { kvBytes, sliceKv } from "../server/src/model/kv-span";
import { createOnnxModel } from "../server/src/model/onnx-model";
import { isCacheGraphModel } from "../server/src/model/types";

const CONTEXT = 1024;
const BLOCK = 32;
const rssMiB = () => Math.round(process.memoryUsage().rss / 2 ** 20);

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: "string" }, steps: { type: "string" }, out: { type: "string" } } });
  const dir = resolve(positionals[0]);
  const out = resolve(values.out ?? join(__dirname, "..", "bench", "big-shape.json"));
  const b = loadBundle(dir);
  const layers = b.config.model.cache!.layers;
  const row: Record<string, unknown> = { bundle: b.config.name, dtype: b.config.model.dtype, layers, params: b.config.model.params, context: CONTEXT, block: BLOCK, rssStartMiB: rssMiB() };
  const threadList = values.threads === "none" ? [] : (values.threads ?? "1,2").split(",").map(Number);
  for (const threads of threadList) {
    let t = performance.now();
    const m = await createOnnxModel(b.modelPath, { provider: "cpu", threads, probes: b.config.probes, padId: b.config.ids.pad, shift: b.config.model.shift });
    if (!isCacheGraphModel(m)) throw new Error(`${dir}: not a cache graph`);
    const r: Record<string, number> = { loadMs: Math.round(performance.now() - t), rssLoadedMiB: rssMiB() };
    const n = CONTEXT + BLOCK;
    const ids = Int32Array.from({ length: n }, (_, i) => (i < CONTEXT ? 10 + ((i * 7919) % 300) : b.config.ids.mask));
    const pos = Int32Array.from(ids, (_, i) => i);
    t = performance.now();
    const full = await m.forwardCache({ ids, positions: pos, past: null, want: { start: CONTEXT, end: n } });
    r.firstForwardMs = Math.round(performance.now() - t);
    r.firstForwardPerLayerMs = Math.round(r.firstForwardMs / layers);
    r.rssAfterFirstMiB = rssMiB();
    r.kvBytesPerToken = kvBytes(full.present) / n;
    const past = sliceKv(full.present, m.kv, [[0, CONTEXT]]);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      await m.forwardCache({ ids: ids.slice(CONTEXT), positions: pos.slice(CONTEXT), past, want: { start: 0, end: BLOCK } });
      times.push(performance.now() - t);
    }
    r.cachedForwardMs = Math.round(times.sort((x, y) => x - y)[1]);
    r.cachedForwardPerLayerMs = Math.round(r.cachedForwardMs / layers);
    r.rssPeakMiB = rssMiB();
    await m.dispose();
    row[`threads${threads}`] = r;
    console.log(threads, JSON.stringify(r));
  }
  const steps = Number(values.steps ?? 8);
  const e = await loadEngine({ bundleDir: dir, provider: "cpu", threads: 2 });
  const words = "def merge(a, b):\n    out = []\n    return out + a + b\n";
  let prompt = words;
  while (b.tokenizer.encode(prompt).length < CONTEXT) prompt += words;
  const t = performance.now();
  const res = await e.generate({ prompt, raw: true, stop: "full", genLength: BLOCK, blockLength: BLOCK, steps, cache: "prefix" });
  row.generate = {
    promptTokens: res.trace.promptIds.length,
    forwards: res.trace.totals.forwards,
    wallMs: Math.round(performance.now() - t),
    forwardTokens: res.trace.blocks[0].steps.map((s) => s.forwardTokens),
    rssMiB: rssMiB(),
  };
  console.log(JSON.stringify(row.generate));
  await e.dispose();
  const rows = existsSync(out) ? (JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>[]) : [];
  // A rerun of one part (--threads none) keeps the other parts' figures.
  const prev = rows.find((r) => r.bundle === row.bundle) ?? {};
  writeFileSync(out, JSON.stringify([...rows.filter((r) => r.bundle !== row.bundle), { ...prev, ...row }], null, 1) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
