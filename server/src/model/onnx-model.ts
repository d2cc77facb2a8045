/**
 * The only module that touches onnxruntime-node: session creation on a chosen execution provider
 * (with fallback for `auto`), and the forward pass of the bundle's masked-diffusion model.
 */
import * as ort from "onnxruntime-node";
import type { ProviderChoice } from "../engine-types";
import { ModelError } from "../errors";
import { currentProviderEnv, providerCandidates, providerReport } from "./providers";

// ONNX Runtime's own logger writes failures (a provider library that does not load) to stderr as
// coloured C++ log lines before the exception reaches us; every such failure also comes back as the
// exception we turn into a ModelError with a hint, so its native log stays quiet (fatal only).
// EDIT_ORT_LOG_LEVEL=verbose|info|warning|error brings it back for debugging.
ort.env.logLevel = (["verbose", "info", "warning", "error", "fatal"] as const).find((l) => l === process.env.EDIT_ORT_LOG_LEVEL) ?? "fatal";
import type {
  Activation,
  BatchForwardResult,
  CacheForwardRequest,
  CacheForwardResult,
  CacheGraphModel,
  DllmModel,
  ForwardRequest,
  ForwardResult,
  KvArray,
  KvDtype,
  KvGeometry,
  KvSpan,
} from "./types";

export interface OnnxModelOptions {
  provider?: ProviderChoice;
  threads?: number;
  /** ONNX output name -> module name (bundle.json probes). */
  probes: Record<string, string>;
  /** Called with one line per provider that failed before the one that runs (for a stderr note). */
  onFallback?: (provider: string, error: Error) => void;
  /** bundle.json model.shift (cache graphs only). */
  shift?: boolean;
  /** bundle.json ids.pad: a cache graph takes positions from the caller; a batched row's leading run of it is left padding. */
  padId?: number;
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
  // For auto, skip the accelerators the provider report rules out (libraries plainly absent: their failed
  // load is noisy on stderr); the engine and `doctor` give the same report's reasons.
  const supported = supportedBackends();
  const ruledOut = new Set<string>();
  if (choice === "auto") {
    for (const r of providerReport(currentProviderEnv(supported))) if (r.usable === false) ruledOut.add(r.provider);
  }
  const candidates = providerCandidates(choice, supported).filter((p) => !ruledOut.has(p));
  let lastError: Error | undefined;
  for (const provider of candidates) {
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        ...(opts.threads ? { intraOpNumThreads: opts.threads, interOpNumThreads: 1 } : {}),
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
      });
      return session.inputNames.includes("past_key.0")
        ? new OnnxCacheGraphModel(session, provider, opts.probes, opts.shift ?? false, opts.padId ?? null)
        : new OnnxDllmModel(session, provider, opts.probes);
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

/** Input buffers kept for reuse: the most recent shapes (one generation uses one or two). */
const MAX_FEED_SHAPES = 8;

export class OnnxDllmModel implements DllmModel {
  readonly info: OnnxModelInfo;
  protected readonly fetchNames: string[];
  /** Reused input buffers by total element count (batch * seq): no per-step allocation of the feed. */
  private readonly feeds = new Map<string, { buf: BigInt64Array; tensor: ort.Tensor }>();

  constructor(
    protected readonly session: ort.InferenceSession,
    readonly provider: string,
    protected readonly probes: Record<string, string>,
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

  protected feed(ids: ArrayLike<number>, rows: number, seq: number, slot = "ids"): ort.Tensor {
    const key = `${slot}:${rows}x${seq}`;
    let f = this.feeds.get(key);
    if (f) {
      // Most recently used last (Map keeps insertion order).
      this.feeds.delete(key);
    } else {
      const buf = new BigInt64Array(rows * seq);
      f = { buf, tensor: new ort.Tensor("int64", buf, [rows, seq]) };
      // Bounded (issue 15): each new prompt length used to leave its buffer behind for good.
      while (this.feeds.size >= MAX_FEED_SHAPES) this.feeds.delete(this.feeds.keys().next().value!);
    }
    this.feeds.set(key, f);
    for (let i = 0; i < ids.length; i++) f.buf[i] = BigInt(ids[i]);
    return f.tensor;
  }

  protected async run(feeds: Record<string, ort.Tensor>, extraFetch: readonly string[] = []): Promise<{ logits: ort.Tensor; acts: Map<string, Activation>; out: ort.InferenceSession.ReturnType }> {
    const out = await this.session.run(feeds, [...this.fetchNames, ...extraFetch]);
    const acts = new Map<string, Activation>();
    for (const [outName, module] of Object.entries(this.probes)) {
      const t = out[outName];
      if (!t) continue;
      acts.set(module, { data: t.data as Float32Array, dim: t.dims[t.dims.length - 1] });
    }
    return { logits: out.logits, acts, out };
  }

  async forward(ids: Int32Array, _request?: ForwardRequest): Promise<ForwardResult> {
    const { logits, acts } = await this.run({ input_ids: this.feed(ids, 1, ids.length) });
    // A v1 graph returns every row; the caller indexes rows by absolute position (rowStart 0).
    return { rowStart: 0, logits: logits.data as Float32Array, vocab: logits.dims[2], activations: acts };
  }

  async forwardBatch(rows: Int32Array[], leftPad?: readonly number[]): Promise<BatchForwardResult> {
    const seq = rows[0]?.length ?? 0;
    if (rows.some((r) => r.length !== seq)) throw new ModelError("forwardBatch: rows must have equal length (left-pad them)");
    const flat = new Int32Array(rows.length * seq);
    rows.forEach((r, i) => flat.set(r, i * seq));
    if (leftPad && leftPad.length !== rows.length) throw new ModelError(`forwardBatch: ${rows.length} rows but ${leftPad.length} left-pad lengths`);
    const { logits, acts } = await this.run(this.batchFeeds(flat, rows.length, seq, leftPad));
    return { batch: rows.length, seq, vocab: logits.dims[2], logits: logits.data as Float32Array, activations: acts };
  }

  /** A v1 graph masks its (dedicated) pad id and counts positions inside; leftPad is not needed there. */
  protected batchFeeds(flat: Int32Array, rows: number, seq: number, _leftPad?: readonly number[]): Record<string, ort.Tensor> {
    return { input_ids: this.feed(flat, rows, seq) };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The cache graph (docs/kv-cache.md: input_ids, position_ids, past_key/value.{i}, want -> logits and
 * probes of the wanted rows, present_key/value.{i}). Without a cache (forward/forwardBatch) it runs
 * with past length 0 and returns only the wanted rows; kv-cache-model.ts drives forwardCache.
 */
export class OnnxCacheGraphModel extends OnnxDllmModel implements CacheGraphModel {
  readonly kv: KvGeometry;
  readonly kvDtype: KvDtype;
  private readonly presentNames: string[];
  private readonly emptyPast = new Map<number, Record<string, ort.Tensor>>();

  constructor(
    session: ort.InferenceSession,
    provider: string,
    probes: Record<string, string>,
    readonly shift: boolean,
    /** The id batched rows are left-padded with (only a leading run counts as padding); single sequences carry none. */
    private readonly padId: number | null,
  ) {
    super(session, provider, probes);
    for (const need of ["position_ids", "want"]) {
      if (!session.inputNames.includes(need)) {
        throw new ModelError(`model.onnx has past_key.0 but no "${need}" input: not a cache graph (inputs: ${session.inputNames.join(", ")})`, provider);
      }
    }
    const layers = session.inputNames.filter((n) => n.startsWith("past_key.")).length;
    const meta = session.inputMetadata.find((m) => m.name === "past_key.0");
    const shape = meta && meta.isTensor ? meta.shape : [];
    const kvHeads = shape[1];
    const headDim = shape[3];
    if (typeof kvHeads !== "number" || typeof headDim !== "number") {
      throw new ModelError(`model.onnx: past_key.0 must have fixed kv_heads and head_dim axes, found [${shape.join(", ")}]`, provider);
    }
    this.kv = { layers, kvHeads, headDim };
    const kvType = meta && meta.isTensor ? meta.type : "float32";
    if (kvType !== "float32" && kvType !== "float16") {
      throw new ModelError(`model.onnx: past_key.0 must be float32 or float16, found ${kvType}`, provider);
    }
    this.kvDtype = kvType;
    this.presentNames = [];
    for (let i = 0; i < layers; i++) {
      for (const kind of ["key", "value"]) {
        const name = `present_${kind}.${i}`;
        if (!session.outputNames.includes(name)) throw new ModelError(`model.onnx: cache graph lacks the output "${name}"`, provider);
        this.presentNames.push(name);
      }
    }
  }

  private wantTensor(start: number, end: number): ort.Tensor {
    return new ort.Tensor("int64", BigInt64Array.from([BigInt(start), BigInt(end)]), [2]);
  }

  private pastFeeds(batch: number, past: KvSpan | null): Record<string, ort.Tensor> {
    const { layers, kvHeads, headDim } = this.kv;
    if (!past || past.length === 0) {
      let empty = this.emptyPast.get(batch);
      if (!empty) {
        empty = {};
        const t = new ort.Tensor(this.kvDtype, this.kvDtype === "float16" ? new Uint16Array(0) : new Float32Array(0), [batch, kvHeads, 0, headDim]);
        for (let i = 0; i < layers; i++) empty[`past_key.${i}`] = empty[`past_value.${i}`] = t;
        this.emptyPast.set(batch, empty);
      }
      return empty;
    }
    if (past.layers.length !== layers) throw new ModelError(`past K/V has ${past.layers.length} layers, the graph ${layers}`);
    const feeds: Record<string, ort.Tensor> = {};
    const dims = [1, kvHeads, past.length, headDim];
    past.layers.forEach((l, i) => {
      feeds[`past_key.${i}`] = this.kvTensor(l.key, dims);
      feeds[`past_value.${i}`] = this.kvTensor(l.value, dims);
    });
    return feeds;
  }

  private kvTensor(data: KvArray, dims: number[]): ort.Tensor {
    const want = this.kvDtype === "float16" ? Uint16Array : Float32Array;
    if (!(data instanceof want)) throw new ModelError(`past K/V are ${data.constructor.name}, the graph takes ${this.kvDtype}`);
    return this.kvDtype === "float16" ? new ort.Tensor("float16", data as Uint16Array, dims) : new ort.Tensor("float32", data as Float32Array, dims);
  }

  /** A present output's data as the span's array type (float16 as raw bits, whatever view ORT returned). */
  private kvData(t: ort.Tensor): KvArray {
    const d = t.data as ArrayBufferView;
    if (this.kvDtype === "float32") return d as Float32Array;
    return d instanceof Uint16Array ? d : new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2);
  }

  /**
   * Position ids per row: 0, 1, 2, ... after the row's LEADING run of left padding (the batched eval's
   * padding; those pad rows get position 0). A pad id anywhere else is a token and takes its position:
   * converted bundles set ids.pad = eos, and an eos in the prompt or committed mid-block must not
   * repeat a position (the official Dream/LLaDA code and the Python reference use plain positions).
   * `leftPad[r]` is row r's padding length when the caller knows it; otherwise the leading run of padId.
   */
  private positionsOf(flat: Int32Array, rows: number, seq: number, leftPad?: readonly number[]): Int32Array {
    const pos = new Int32Array(flat.length);
    for (let r = 0; r < rows; r++) {
      const lead = leftPad?.[r] ?? leadingRun(flat, r * seq, seq, this.padId);
      for (let j = 0; j < seq; j++) pos[r * seq + j] = Math.max(0, j - lead);
    }
    return pos;
  }

  override async forward(ids: Int32Array, request?: ForwardRequest): Promise<ForwardResult> {
    const start = request?.want?.start ?? 0;
    const end = request?.want?.end ?? ids.length;
    const { logits, acts } = await this.run({
      input_ids: this.feed(ids, 1, ids.length),
      // A single sequence carries no padding: plain positions even when it starts with a pad (= eos) id.
      position_ids: this.feed(this.positionsOf(ids, 1, ids.length, [0]), 1, ids.length, "pos"),
      want: this.wantTensor(start, end),
      ...this.pastFeeds(1, null),
    });
    return { rowStart: start, logits: logits.data as Float32Array, vocab: logits.dims[2], activations: acts };
  }

  protected override batchFeeds(flat: Int32Array, rows: number, seq: number, leftPad?: readonly number[]): Record<string, ort.Tensor> {
    return {
      input_ids: this.feed(flat, rows, seq),
      position_ids: this.feed(this.positionsOf(flat, rows, seq, leftPad), rows, seq, "pos"),
      want: this.wantTensor(0, seq),
      ...this.pastFeeds(rows, null),
    };
  }

  async forwardCache(req: CacheForwardRequest): Promise<CacheForwardResult> {
    const q = req.ids.length;
    if (req.positions.length !== q) throw new ModelError(`forwardCache: ${q} query ids but ${req.positions.length} positions`);
    const { logits, acts, out } = await this.run(
      {
        input_ids: this.feed(req.ids, 1, q),
        position_ids: this.feed(req.positions, 1, q, "pos"),
        want: this.wantTensor(req.want.start, req.want.end),
        ...this.pastFeeds(1, req.past),
      },
      this.presentNames,
    );
    const layers: KvSpan["layers"] = [];
    for (let i = 0; i < this.kv.layers; i++) {
      layers.push({ key: this.kvData(out[`present_key.${i}`]), value: this.kvData(out[`present_value.${i}`]) });
    }
    return { logits: logits.data as Float32Array, vocab: logits.dims[2], activations: acts, present: { length: q, layers } };
  }
}

/** Length of the run of `padId` at the start of flat[from, from + len) (0 without a pad id). */
function leadingRun(flat: Int32Array, from: number, len: number, padId: number | null): number {
  if (padId === null) return 0;
  let n = 0;
  while (n < len && flat[from + n] === padId) n++;
  return n;
}
