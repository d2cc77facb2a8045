/**
 * The only module that touches onnxruntime-node: session creation on a chosen execution provider
 * (with fallback for `auto`), and the forward pass of the bundle's masked-diffusion model.
 */
import * as ort from "onnxruntime-node";
import type { ProviderChoice } from "../engine-types";
import { ModelError } from "../errors";
import { acceleratorLibrariesPresent, providerCandidates } from "./providers";
import type { Activation, BatchForwardResult, DllmModel, ForwardResult } from "./types";

export interface OnnxModelOptions {
  provider?: ProviderChoice;
  threads?: number;
  /** ONNX output name -> module name (bundle.json probes). */
  probes: Record<string, string>;
  /** Called with one line per provider that failed before the one that runs (for a stderr note). */
  onFallback?: (provider: string, error: Error) => void;
}

export interface OnnxModelInfo {
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Last axis of each output when the ONNX metadata states it (symbolic/absent axes are omitted). */
  outputWidths: Map<string, number>;
}

export function supportedBackends(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return ["cpu"];
  }
}

export async function createOnnxModel(modelPath: string, opts: OnnxModelOptions): Promise<OnnxDllmModel> {
  const choice = opts.provider ?? "auto";
  // For auto, skip accelerators whose native libraries are plainly absent (their failed load is noisy on stderr).
  const candidates = providerCandidates(choice, supportedBackends()).filter((p) => choice !== "auto" || acceleratorLibrariesPresent(p));
  let lastError: Error | undefined;
  for (const provider of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
      });
      return new OnnxDllmModel(session, provider, opts.probes);
    } catch (e) {
      lastError = e as Error;
      if (candidates.length > 1) opts.onFallback?.(provider, lastError);
    }
  }
  throw new ModelError(
    `could not create an ONNX Runtime session for ${modelPath} on ${candidates.join(" / ")}: ${lastError?.message}`,
    candidates[candidates.length - 1],
    { cause: lastError },
  );
}

export class OnnxDllmModel implements DllmModel {
  readonly info: OnnxModelInfo;
  private readonly fetchNames: string[];
  /** Reused input buffers by total element count (batch * seq): no per-step allocation of the feed. */
  private readonly feeds = new Map<string, { buf: BigInt64Array; tensor: ort.Tensor }>();

  constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: string,
    private readonly probes: Record<string, string>,
  ) {
    const outputWidths = new Map<string, number>();
    for (const m of session.outputMetadata) {
      if (!m.isTensor) continue;
      const last = m.shape[m.shape.length - 1];
      if (typeof last === "number" && last > 0) outputWidths.set(m.name, last);
    }
    this.info = { inputNames: session.inputNames, outputNames: session.outputNames, outputWidths };
    if (!session.inputNames.includes("input_ids")) {
      throw new ModelError(`model.onnx: expected an input named "input_ids", found ${session.inputNames.join(", ")}`, provider);
    }
    if (!session.outputNames.includes("logits")) {
      throw new ModelError(`model.onnx: expected an output named "logits", found ${session.outputNames.join(", ")}`, provider);
    }
    this.fetchNames = ["logits", ...Object.keys(probes).filter((n) => session.outputNames.includes(n))];
  }

  private feed(ids: ArrayLike<number>, rows: number, seq: number): ort.Tensor {
    const key = `${rows}x${seq}`;
    let f = this.feeds.get(key);
    if (!f) {
      const buf = new BigInt64Array(rows * seq);
      f = { buf, tensor: new ort.Tensor("int64", buf, [rows, seq]) };
      this.feeds.set(key, f);
    }
    for (let i = 0; i < ids.length; i++) f.buf[i] = BigInt(ids[i]);
    return f.tensor;
  }

  private async run(input: ort.Tensor): Promise<{ logits: ort.Tensor; acts: Map<string, Activation> }> {
    const out = await this.session.run({ input_ids: input }, this.fetchNames);
    const acts = new Map<string, Activation>();
    for (const [outName, module] of Object.entries(this.probes)) {
      const t = out[outName];
      if (!t) continue;
      acts.set(module, { data: t.data as Float32Array, dim: t.dims[t.dims.length - 1] });
    }
    return { logits: out.logits, acts };
  }

  async forward(ids: Int32Array): Promise<ForwardResult> {
    const { logits, acts } = await this.run(this.feed(ids, 1, ids.length));
    // A v1 graph returns every row; the caller indexes rows by absolute position (rowStart 0).
    return { rowStart: 0, logits: logits.data as Float32Array, vocab: logits.dims[2], activations: acts };
  }

  async forwardBatch(rows: Int32Array[]): Promise<BatchForwardResult> {
    const seq = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== seq)) throw new ModelError("forwardBatch: rows must have equal length (left-pad them)");
    const flat = new Int32Array(rows.length * seq);
    rows.forEach((r, i) => flat.set(r, i * seq));
    const { logits, acts } = await this.run(this.feed(flat, rows.length, seq));
    return { batch: rows.length, seq, vocab: logits.dims[2], logits: logits.data as Float32Array, activations: acts };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
