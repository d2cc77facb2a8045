/**
 * `npm run gpu-check`: the one prepared GPU check, bounded to 8 minutes, that a GPU machine runs as it is.
 *
 * 1. Parity: every bundle present of the embedded model, tiny-llada, tiny-dream (fp32, fp16 K/V, int4)
 *    and SmolLM2 (`npm run build:smollm`, when built) generates the same prompts on the CPU provider and
 *    on CUDA: output tokens and every block's stop step must be equal (rule `full` and the task's rule).
 * 2. Timings per dtype (fp32 / fp16 / int4 bundles present): one forward at a 1k-token context (no past),
 *    one forward of a 32-token block against the 1k tokens' K/V (the prefix cache), and one completion
 *    (a prompt of up to 1k tokens, prefix cache) on CUDA, with CPU alongside for the ratio.
 *
 * Results: test-output/gpu-check/results.json (`--out FILE`), written after every step, so a run cut off
 * by the bound keeps what it measured. `--dry-run` runs everything with the CPU provider standing in for
 * CUDA on the tiny bundles (the test suite runs it); `--budget-s N` lowers the 480 s bound.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadBundle } from "../server/src/bundle/load";
import { loadEngine } from "../server/src/engine";
import type { Engine, ProviderChoice } from "../server/src/engine-types";
import { createOnnxModel, supportedBackends } from "../server/src/model/onnx-model";
import { currentProviderEnv, providerReport } from "../server/src/model/providers";
import { isCacheGraphModel } from "../server/src/model/types";
import { sliceKv } from "../server/src/model/kv-span";

const ROOT = resolve(__dirname, "..");
const BOUND_S = 480;
const CONTEXT = 1024;
const BLOCK = 32;

interface ParityRow {
  bundle: string;
  prompt: string;
  rule: string;
  equalTokens: boolean;
  equalStops: boolean;
  cpuStops: (number | null)[];
  gpuStops: (number | null)[];
  error?: string;
}

interface TimingRow {
  bundle: string;
  dtype: string;
  provider: string;
  context: number;
  firstForwardMs: number;
  cachedForwardMs: number;
  completionMs?: number;
  completionForwards?: number;
  error?: string;
}

interface Results {
  startedAt: string;
  dryRun: boolean;
  gpuProvider: string;
  cudaStatus: string;
  boundS: number;
  elapsedS: number;
  parity: ParityRow[];
  timings: TimingRow[];
  skipped: string[];
  complete: boolean;
}

const BUNDLES: { name: string; dir: string; task: string; prompts: string[]; tiny: boolean }[] = [
  { name: "edit-tiny-char", dir: "models/edit-tiny-char", task: "countdown", prompts: ["17 8 5>30", "7 3 12>33"], tiny: true },
  { name: "tiny-llada", dir: "test/fixtures/tiny-llada", task: "chat", prompts: ["def add(a, b):", "x<|endoftext|>y"], tiny: true },
  { name: "tiny-dream", dir: "test/fixtures/tiny-dream", task: "chat", prompts: ["def add(a, b):", "x<|endoftext|>y"], tiny: true },
  { name: "tiny-llada-fp16", dir: "test/fixtures/tiny-llada-fp16", task: "chat", prompts: ["def add(a, b):"], tiny: true },
  { name: "tiny-llada-int4", dir: "test/fixtures/tiny-llada-int4", task: "chat", prompts: ["def add(a, b):"], tiny: true },
  { name: "smollm2-135m-dllm", dir: "models/smollm2-135m-dllm", task: "", prompts: ["def fib(n):\n    "], tiny: false },
];
const TIMED = ["tiny-llada", "tiny-llada-fp16", "tiny-llada-int4", "smollm2-135m-dllm", "smollm2-135m-dllm-fp16", "smollm2-135m-dllm-int4"];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { "dry-run": { type: "boolean" }, out: { type: "string" }, "budget-s": { type: "string" } },
  });
  const dryRun = values["dry-run"] === true;
  const boundS = Math.min(BOUND_S, Number(values["budget-s"] ?? BOUND_S));
  const out = resolve(values.out ?? join(ROOT, "test-output", "gpu-check", "results.json"));
  const t0 = performance.now();
  const left = () => boundS - (performance.now() - t0) / 1000;
  const gpu: ProviderChoice = dryRun ? "cpu" : "cuda";
  const cuda = providerReport(currentProviderEnv(supportedBackends())).find((p) => p.provider === "cuda");
  const res: Results = {
    startedAt: new Date().toISOString(),
    dryRun,
    gpuProvider: gpu,
    cudaStatus: cuda ? `${cuda.usable === false ? "skipped" : "ok"}: ${cuda.reason}` : "not in this build",
    boundS,
    elapsedS: 0,
    parity: [],
    timings: [],
    skipped: [],
    complete: false,
  };
  const save = () => {
    res.elapsedS = Math.round((performance.now() - t0) / 100) / 10;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(res, null, 1) + "\n");
  };
  if (!dryRun && cuda?.usable === false) {
    save();
    process.stderr.write(`gpu-check: CUDA is not usable here: ${cuda.reason}\n`);
    return 1;
  }
  const present = (b: { dir: string; tiny: boolean }) => existsSync(join(ROOT, b.dir, "bundle.json")) && (!dryRun || b.tiny);

  for (const b of BUNDLES) {
    if (!present(b)) {
      res.skipped.push(`${b.name}: ${dryRun && !b.tiny ? "dry run: tiny bundles only" : "not built"}`);
      continue;
    }
    if (left() < 60) {
      res.skipped.push(`${b.name} parity: out of time`);
      continue;
    }
    const dir = join(ROOT, b.dir);
    let cpu: Engine | null = null;
    let acc: Engine | null = null;
    try {
      cpu = await loadEngine({ bundleDir: dir, provider: "cpu", threads: 2 });
      acc = await loadEngine({ bundleDir: dir, provider: gpu, threads: 2 });
      const task = b.task || cpu.info.defaultTask;
      const rules = ["full", ""]; // "" = the task's own rule (calibrated EDIT where the bundle has probes)
      for (const prompt of b.prompts) {
        for (const rule of rules) {
          const req = { prompt, task, ...(rule ? { stop: rule } : {}) };
          const a = await cpu.generate(req);
          const g = await acc.generate(req);
          const stops = (t: typeof a.trace) => t.blocks.map((x) => x.stopStep);
          res.parity.push({
            bundle: b.name,
            prompt,
            rule: rule || a.trace.rule,
            equalTokens: JSON.stringify(a.trace.outputIds) === JSON.stringify(g.trace.outputIds),
            equalStops: JSON.stringify(stops(a.trace)) === JSON.stringify(stops(g.trace)),
            cpuStops: stops(a.trace),
            gpuStops: stops(g.trace),
          });
          save();
        }
      }
    } catch (e) {
      res.parity.push({ bundle: b.name, prompt: "", rule: "", equalTokens: false, equalStops: false, cpuStops: [], gpuStops: [], error: (e as Error).message });
    } finally {
      await cpu?.dispose();
      await acc?.dispose();
    }
    save();
  }

  for (const name of TIMED) {
    const dir = join(ROOT, name.startsWith("tiny") ? "test/fixtures" : "models", name);
    const tiny = name.startsWith("tiny");
    if (!existsSync(join(dir, "bundle.json")) || (dryRun && !tiny)) {
      res.skipped.push(`${name} timings: ${dryRun && !tiny ? "dry run: tiny bundles only" : "not built"}`);
      continue;
    }
    for (const provider of [gpu, "cpu"] as ProviderChoice[]) {
      if (left() < 45) {
        res.skipped.push(`${name} timings on ${provider}: out of time`);
        continue;
      }
      res.timings.push(await timing(name, dir, provider, tiny ? 128 : CONTEXT));
      save();
      if (dryRun) break; // the same provider twice tells nothing
    }
  }
  res.complete = true;
  save();
  const bad = res.parity.filter((p) => p.error || !p.equalTokens || !p.equalStops);
  process.stdout.write(`gpu-check: ${res.parity.length - bad.length}/${res.parity.length} parity runs equal, ` +
    `${res.timings.length} timings, ${res.elapsedS} s; results in ${out}\n`);
  return bad.length ? 1 : 0;
}

/** First forward at `context` tokens, a cached block forward against them, and one completion. */
async function timing(name: string, dir: string, provider: ProviderChoice, context: number): Promise<TimingRow> {
  const b = loadBundle(dir);
  const row: TimingRow = { bundle: name, dtype: b.config.model.dtype ?? "fp32", provider, context, firstForwardMs: 0, cachedForwardMs: 0 };
  try {
    const m = await createOnnxModel(b.modelPath, { provider, threads: 2, probes: b.config.probes, padId: b.config.ids.pad, shift: b.config.model.shift });
    if (!isCacheGraphModel(m)) throw new Error("not a cache graph");
    const n = context + BLOCK;
    const ids = new Int32Array(n);
    for (let i = 0; i < context; i++) ids[i] = 10 + ((i * 7919) % Math.min(300, b.config.vocab_size - 10));
    ids.fill(b.config.ids.mask, context);
    const pos = Int32Array.from(ids, (_, i) => i);
    const full = await m.forwardCache({ ids, positions: pos, past: null, want: { start: context, end: n } }); // warm-up
    let t = performance.now();
    await m.forwardCache({ ids, positions: pos, past: null, want: { start: context, end: n } });
    row.firstForwardMs = round(performance.now() - t);
    const past = sliceKv(full.present, m.kv, [[0, context]]);
    const q = ids.slice(context);
    const qp = pos.slice(context);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await m.forwardCache({ ids: q, positions: qp, past, want: { start: 0, end: BLOCK } });
      times.push(performance.now() - t);
    }
    row.cachedForwardMs = round(times.sort((x, y) => x - y)[2]);
    await m.dispose();
    const e = await loadEngine({ bundleDir: dir, provider, threads: 2 });
    try {
      const words = "def merge(a, b):\n    out = []\n    return out + a + b\n";
      const maxLen = b.config.model.max_len ?? Infinity;
      let prompt = words;
      while (b.tokenizer.encode(prompt).length < Math.min(context, maxLen - 2 * BLOCK - 64)) prompt += words;
      t = performance.now();
      const r = await e.generate({ prompt, stop: "full", genLength: BLOCK, blockLength: BLOCK, steps: BLOCK, cache: "prefix", raw: true });
      row.completionMs = round(performance.now() - t);
      row.completionForwards = r.trace.totals.forwards;
    } finally {
      await e.dispose();
    }
  } catch (err) {
    row.error = (err as Error).message.split("\n")[0];
  }
  return row;
}

const round = (x: number) => Math.round(x * 10) / 10;

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`gpu-check: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
