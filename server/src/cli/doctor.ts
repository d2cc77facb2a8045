/**
 * `edit-dllm doctor`: what can run here and what a bundle needs. Prints the execution providers in the
 * order `auto` tries them, each with why it runs or is skipped (and the one command that sets CUDA up),
 * then the bundle's format, family, dtype, files, estimated resident memory against the memory
 * available, and its templates. `--try` also creates a session on every provider that may work
 * (the only way to know for sure). Per dtype: weights + K/V + attention scores at a 4k context
 * (bundle/dtype-estimate.ts; `--context N`, `--layers N` for the same geometry with N layers), and with
 * `--gpu-memory 8G` which dtypes fit that GPU and why not. Exit 0 when the bundle loads and fits, 1 otherwise.
 */
import { parseArgs } from "node:util";
import { freemem, totalmem } from "node:os";
import { resolve } from "node:path";
import { loadBundle } from "../bundle/load";
import { defaultBundleDir } from "../bundle/locate";
import { formatBytes, modelFootprint, RESIDENT_FACTOR } from "../bundle/memory";
import { createOnnxModel, supportedBackends } from "../model/onnx-model";
import { currentProviderEnv, providerReport, type ProviderStatus } from "../model/providers";
import type { ProviderChoice } from "../engine-types";
import {
  DEFAULT_ESTIMATE_CONTEXT,
  ESTIMATE_DTYPES,
  estimateDtype,
  gpuFit,
  modelShape,
  parseByteSize,
  withLayers,
  type DtypeEstimate,
  type GpuFit,
} from "../bundle/dtype-estimate";
import { UsageError } from "../errors";

export const DOCTOR_USAGE = `usage: edit-dllm doctor [--bundle DIR] [--try] [--json] [--gpu-memory SIZE] [--context N] [--layers N]
  providers (auto's order, why each runs or is skipped), the bundle's size, dtype and memory fit;
  --try creates a session on each provider that may work;
  per dtype: weights + K/V + attention scores at --context tokens (default ${DEFAULT_ESTIMATE_CONTEXT}),
  --layers N: as if the model had N layers of the same shape; --gpu-memory 8G: which dtypes fit that GPU`;

export interface DoctorOptions {
  bundleDir?: string;
  tryProviders?: boolean;
  /** Bytes of GPU memory to check every dtype against. */
  gpuMemoryBytes?: number;
  contextTokens?: number;
  layers?: number;
}

export interface DoctorReport {
  node: string;
  platform: string;
  backends: string[];
  providers: (ProviderStatus & { tried?: string })[];
  bundle?: {
    dir: string;
    name?: string;
    error?: string;
    format?: string;
    architecture?: string;
    dtype?: string;
    maxLen?: number | null;
    shift?: boolean;
    cacheGraph?: boolean;
    params?: number;
    files?: { path: string; bytes: number }[];
    residentBytes?: number;
    availableBytes: number;
    totalBytes: number;
    fits?: boolean;
    chatTemplate?: boolean;
    infill?: string | null;
    /** Block-causal bundles (issue 20): the model's block size and the family's released sizes, projected. */
    blockCausal?: { blockSize: number; released: ReleasedSize[] };
    /** Per dtype at `contextTokens` (layers: the bundle's or --layers). */
    estimates?: { contextTokens: number; layers: number; params: number; dtypes: DtypeEstimate[] };
    gpu?: { bytes: number; fits: GpuFit[] };
  };
}

export async function doctorReport(opts: DoctorOptions): Promise<DoctorReport> {
  const backends = supportedBackends();
  const report: DoctorReport = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    backends,
    providers: providerReport(currentProviderEnv(backends)),
  };
  const dir = resolve(opts.bundleDir ?? defaultBundleDir());
  const b: NonNullable<DoctorReport["bundle"]> = { dir, availableBytes: freemem(), totalBytes: totalmem() };
  report.bundle = b;
  let modelPath: string | null = null;
  let probes: Record<string, string> = {};
  try {
    const bundle = loadBundle(dir);
    const c = bundle.config;
    const fp = modelFootprint(dir, c);
    Object.assign(b, {
      name: c.name,
      format: c.format,
      architecture: c.model.architecture ?? "edit-tiny",
      dtype: fp.dtype,
      maxLen: c.model.max_len ?? null,
      shift: c.model.shift ?? false,
      cacheGraph: (c.model.cache ?? null) !== null,
      params: c.model.params,
      files: fp.files,
      residentBytes: fp.residentBytes,
      fits: fp.residentBytes <= b.availableBytes,
      chatTemplate: bundle.chat != null,
      infill: c.infill?.template ?? null,
      ...(c.model.attention?.mode === "block-causal"
        ? { blockCausal: { blockSize: c.model.attention.block_size, released: releasedSizes(c.model.architecture ?? "") } }
        : {}),
    });
    modelPath = bundle.modelPath;
    probes = c.probes;
    const shape0 = modelShape(c);
    if (shape0) {
      const shape = opts.layers ? withLayers(shape0, opts.layers) : shape0;
      const ctx = opts.contextTokens ?? DEFAULT_ESTIMATE_CONTEXT;
      const dtypes = ESTIMATE_DTYPES.map((d) => estimateDtype(shape, d, ctx));
      b.estimates = { contextTokens: ctx, layers: shape.layers, params: shape.params, dtypes };
      if (opts.gpuMemoryBytes !== undefined) {
        b.gpu = { bytes: opts.gpuMemoryBytes, fits: dtypes.map((e) => gpuFit(e, opts.gpuMemoryBytes!, formatBytes)) };
      }
    }
  } catch (e) {
    b.error = (e as Error).message;
  }
  if (opts.tryProviders && modelPath && b.fits) {
    for (const p of report.providers) {
      if (p.usable === false) continue;
      try {
        const m = await createOnnxModel(modelPath, { provider: p.provider as ProviderChoice, threads: 1, probes });
        p.tried = `session created on ${m.provider}`;
        await m.dispose();
      } catch (e) {
        p.tried = `session failed: ${(e as Error).message.split("\n")[0]}`;
      }
    }
  }
  return report;
}

export function formatDoctor(r: DoctorReport): string {
  const lines = [`edit-dllm doctor: node ${r.node}, ${r.platform}; onnxruntime-node backends: ${r.backends.join(", ")}`];
  lines.push("providers (auto tries them in this order):");
  for (const p of r.providers) {
    const state = p.usable === true ? "ok" : p.usable === false ? "skipped" : "maybe";
    lines.push(`  ${p.provider.padEnd(7)} ${state.padEnd(8)} ${p.reason}${p.tried ? ` [--try: ${p.tried}]` : ""}`);
  }
  const b = r.bundle;
  if (b) {
    lines.push(`bundle: ${b.dir}`);
    if (b.error) lines.push(`  does not load: ${b.error}`);
    else {
      lines.push(`  ${b.name}: ${b.format}, ${b.architecture}, ${b.params?.toLocaleString("en")} parameters, dtype ${b.dtype}, ` +
        `max_len ${b.maxLen ?? "none"}, shift ${b.shift}, cache graph ${b.cacheGraph ? "yes" : "no"}`);
      for (const f of b.files ?? []) lines.push(`  ${f.path}: ${formatBytes(f.bytes)}`);
      lines.push(`  resident (estimate, files x ${RESIDENT_FACTOR}): ${formatBytes(b.residentBytes ?? 0)}; available ` +
        `${formatBytes(b.availableBytes)} of ${formatBytes(b.totalBytes)}: ${b.fits ? "fits" : "DOES NOT FIT"}`);
      const est = b.estimates;
      if (est) {
        lines.push(`  per dtype at a ${est.contextTokens.toLocaleString("en")}-token context, ${est.layers} layers ` +
          `(${est.params.toLocaleString("en")} parameters): weights + K/V + attention scores of one full forward`);
        for (const e of est.dtypes) {
          lines.push(`    ${e.dtype.padEnd(5)} ${formatBytes(e.weightsBytes)} + ${formatBytes(e.kvBytes)} ` +
            `(${e.kvBytesPerToken.toLocaleString("en")} B/token) + ${formatBytes(e.scoresBytes)} = ${formatBytes(e.totalBytes)}` +
            (e.dtype === "int8" ? " (CPU)" : e.dtype === "fp32" ? "" : " (GPU providers; int4 also CPU)"));
        }
      }
      if (b.gpu) {
        lines.push(`  on a GPU with ${formatBytes(b.gpu.bytes)}:`);
        for (const f of b.gpu.fits) lines.push(`    ${f.dtype.padEnd(5)} ${f.fits ? "fits" : "does not fit"}: ${f.reason}`);
      }
      lines.push(`  chat template: ${b.chatTemplate ? "yes (edit/generate and the CLI apply it; --raw skips it)" : "no"}; ` +
        `infill: ${b.infill ?? "no"}`);
      if (b.blockCausal) {
        lines.push(`  attention: block-causal, block ${b.blockCausal.blockSize} (finished blocks' K/V exact; cache prefix by default)`);
        for (const r of b.blockCausal.released) {
          const est = (bytes: number) => formatBytes(Math.ceil(r.params * bytes * RESIDENT_FACTOR));
          lines.push(`  released ${r.name}: ${(r.params / 1e9).toFixed(2)} B parameters; resident fp16 ${est(2)} (GPU), ` +
            `int8 ${est(1)} (CPU); K/V ${formatBytes(r.kvBytesPerToken)} per cached token`);
        }
      }
    }
  }
  return lines.join("\n");
}

/** A released checkpoint of a block-causal family: parameter count and K/V bytes per token (float32 K/V). */
export interface ReleasedSize {
  name: string;
  params: number;
  kvBytesPerToken: number;
}

/**
 * The released sizes of the block-causal families, from their config.json geometry (Qwen3 / Qwen2.5
 * bodies): parameters = embedding (+ untied head) + layers x (attention + MLP + norms); K/V per token =
 * 2 x layers x kv_heads x head_dim x 4 bytes. What each costs before downloading it (docs/bring-your-own-dllm.md).
 */
export function releasedSizes(architecture: string): ReleasedSize[] {
  const g = (name: string, vocab: number, d: number, layers: number, heads: number, kv: number, hd: number, ff: number,
    tied: boolean, qkvBias: boolean, qkNorm: boolean): ReleasedSize => {
    const attn = d * heads * hd + 2 * d * kv * hd + heads * hd * d + (qkvBias ? heads * hd + 2 * kv * hd : 0) + (qkNorm ? 2 * hd : 0);
    const layer = attn + 3 * d * ff + 2 * d;
    return { name, params: vocab * d * (tied ? 1 : 2) + layers * layer + d, kvBytesPerToken: 2 * layers * kv * hd * 4 };
  };
  if (architecture === "sdar") {
    return [
      g("SDAR-1.7B-Chat", 151936, 2048, 28, 16, 8, 128, 6144, true, false, true),
      g("SDAR-4B-Chat", 151936, 2560, 36, 32, 8, 128, 9728, false, false, true),
      g("SDAR-8B-Chat", 151936, 4096, 36, 32, 8, 128, 12288, false, false, true),
    ];
  }
  if (architecture === "fast-dllm-v2") {
    return [
      g("Fast_dLLM_v2_1.5B", 151936, 1536, 28, 12, 2, 128, 8960, true, true, false),
      g("Fast_dLLM_v2_7B", 152064, 3584, 28, 28, 4, 128, 18944, false, true, false),
    ];
  }
  return [];
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      bundle: { type: "string" },
      try: { type: "boolean" },
      json: { type: "boolean" },
      "gpu-memory": { type: "string" },
      context: { type: "string" },
      layers: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE + "\n");
    return 0;
  }
  const positive = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} takes a positive integer, got "${v}"`);
    return n;
  };
  let gpuMemoryBytes: number | undefined;
  if (values["gpu-memory"] !== undefined) {
    try {
      gpuMemoryBytes = parseByteSize(values["gpu-memory"]);
    } catch (e) {
      throw new UsageError(`--gpu-memory: ${(e as Error).message}`);
    }
  }
  const r = await doctorReport({
    bundleDir: values.bundle,
    tryProviders: values.try,
    gpuMemoryBytes,
    contextTokens: positive("context", values.context),
    layers: positive("layers", values.layers),
  });
  process.stdout.write((values.json ? JSON.stringify(r, null, 2) : formatDoctor(r)) + "\n");
  return r.bundle?.error || r.bundle?.fits === false ? 1 : 0;
}
