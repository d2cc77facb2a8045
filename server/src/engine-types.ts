/** The engine's public surface, used by the CLI, the daemon and the bench. No VS Code imports. */
import type { GenerationTrace, StepEvent } from "../../protocol/trace";
import type { ParamValue } from "../../protocol/lsp";

export type ProviderChoice = "auto" | "cpu" | "cuda" | "dml" | "coreml" | "webgpu";

export interface EngineOptions {
  /** Bundle directory; defaults to the embedded bundle under models/. */
  bundleDir?: string;
  provider?: ProviderChoice;
  /** ORT intra-op threads (default 1: under contention more threads made forwards slower, issue 11). */
  threads?: number;
  /** K/V cache mode when a request names none (default "none", the exact baseline). */
  cache?: CacheMode;
  /** Cache refresh after this many forwards per capture; null/absent = at block starts only. */
  cacheRefreshEvery?: number | null;
  /** Byte bound of the cross-request prompt K/V cache (default 64 MiB; 0 turns it off). */
  promptCacheBytes?: number;
}

export type { CacheMode } from "./model/kv-cache-model";
import type { CacheMode } from "./model/kv-cache-model";
import type { PrefixCacheStats } from "./model/prefix-cache";

/**
 * What to do when prompt + genLength exceed the model's max_len: "refuse" (generate, CLI: a RequestError
 * naming the limit and both lengths) or "truncate" (inline completion: drop prompt tokens from the left).
 */
export type ContextOverflow = "refuse" | "truncate";

export interface GenerateRequest {
  /** Raw prompt text; the task's template (and a v2 bundle's chat template) is applied unless `raw` is true. */
  prompt: string;
  task?: string;
  /** Rule name or composition ("edit+confidence"); default: the task's calibrated rule. */
  stop?: string;
  params?: Record<string, ParamValue>;
  genLength?: number;
  blockLength?: number;
  steps?: number;
  temperature?: number;
  seed?: number;
  raw?: boolean;
  /** Largest prompt (and infill suffix) in characters, checked before tokenizing (default DEFAULT_MAX_PROMPT_CHARS, context-limit.ts). */
  maxPromptChars?: number;
  /** Default "refuse". */
  overflow?: ContextOverflow;
  /**
   * Infill: the text after the cursor. Needs a bundle with bundle.json `infill`; the prompt is then the
   * prefix and the masks go between it and the suffix (the task template does not apply).
   */
  suffix?: string;
  /** K/V cache mode for this request (default: the engine's setting). */
  cache?: CacheMode;
  /** Refresh the cache after this many forwards per capture (1 = every forward, equal to `none`). */
  cacheRefreshEvery?: number | null;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
}

export interface GenerateResponse {
  text: string;
  trace: GenerationTrace;
}

export interface EngineInfo {
  bundle: string;
  bundleDir: string;
  provider: string;
  loadMs: number;
  tasks: string[];
  defaultTask: string;
  /** With provider `auto`: why each accelerator that does not run was skipped or failed ("cuda: libcudnn.so.9 not found ..."). */
  providerNotes?: string[];
  /** Estimated resident bytes of the model (bundle/memory.ts; absent for an injected test model). */
  modelResidentBytes?: number;
  /** model.onnx weight precision (bundle.json model.dtype, default fp32). */
  modelDtype?: string;
  /** The bundle declares an infill template: completions may send the text after the cursor (GenerateRequest.suffix). */
  infill?: boolean;
  /** bundle.json model.max_len (null = no learned limit). */
  maxLen?: number | null;
  /** The most characters one token of the bundle's tokenizer stands for (bundle/token-chars.ts; null = unknown). */
  maxCharsPerToken?: number | null;
}

export interface Engine {
  readonly info: EngineInfo;
  generate(req: GenerateRequest): Promise<GenerateResponse>;
  /** Counters of the cross-request prompt K/V cache (null without one; absent on engines that keep none here). */
  promptCacheStats?(): PrefixCacheStats | null;
  /**
   * Called once if the engine gives up for good (the inference worker crashed too often,
   * worker/worker-engine.ts): every later request fails, and the daemon's status turns `failed`.
   */
  onGaveUp?(listener: (cause: Error) => void): void;
  dispose(): Promise<void>;
}
