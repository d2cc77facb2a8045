/**
 * Custom JSON-RPC messages of the daemon (`edit-dllm serve --stdio`), shared by server, client and
 * webview. Standard LSP messages (initialize, didOpen, inlineCompletion, ...) come from the LSP types.
 */
import type { GenerationTrace, StepEvent } from "./trace";

export type StopRuleName =
  | "full"
  | "fixed"
  | "edit"
  | "edit-released"
  | "edit-subspace"
  | "edit-token"
  | "jot"
  | "confidence"
  | "stable-confident"
  | "sched"
  | "less"
  | "klass"
  | "eb-sampler"
  | "edit-cos";

/** A rule name, or an early-stop rule composed on a per-step commit rule: "edit+confidence". */
export type StopSpec = string;

export type ParamValue = number | string | boolean;

export interface GenerateParams {
  prompt: string;
  stop?: StopSpec;
  params?: Record<string, ParamValue>;
  task?: string;
}

export interface GenerateResult {
  text: string;
  trace: GenerationTrace;
}

/** `$/progress` value for an `edit/generate` request carrying a work-done token. */
export interface GenerateProgress {
  kind: "report";
  message: string;
  percentage?: number;
  event: StepEvent;
}

export type DaemonState = "loading" | "ready" | "generating" | "slow" | "failed";

export interface StatusResult {
  state: DaemonState;
  bundle: string | null;
  provider: string | null;
  loadMs: number | null;
  queueLength: number;
  message?: string;
  /** Request counters since the daemon started (cache hits show up here: no forward was run). */
  counters?: DaemonCounters;
  /** What became of the latest inline completion request (why nothing was shown, when nothing was). */
  lastCompletion?: InlineOutcome;
  /** The loaded bundle's tasks and its default task (the "Generate from Prompt" task pick). */
  tasks?: string[];
  defaultTask?: string;
  /** The stop rule names the daemon knows (clients check `edit.stopRule` against them before sending it). */
  rules?: string[];
  /** The provider setting the model was loaded with ("auto", "cuda", ...), beside `provider` (what runs). */
  requestedProvider?: string;
  /** With provider auto: why each accelerator that does not run was skipped ("cuda: libcudnn.so.9 not found ..."). */
  providerNotes?: string[];
  /** Estimated resident bytes of the loaded model and its weight precision (bundle.json model.dtype). */
  modelResidentBytes?: number;
  modelDtype?: string;
}

/** The end of one inline completion request, as the daemon saw it. */
export interface InlineOutcome {
  shown: boolean;
  /** Why nothing (or less) was shown: "cancelled", "low confidence (...)", "provider error: ...", ... */
  reason?: string;
  /** The gate's statistic (mean/min top-1 probability of the shown tokens), when computed. */
  confidence?: number | null;
  source?: "model" | "exact" | "typed-along";
  /** Request time in the daemon, milliseconds. */
  ms: number;
}

export interface DaemonCounters {
  /** Engine generations that ran to the end (inline completions and edit/generate). */
  generations: number;
  /** Model forwards run by those generations. */
  forwards: number;
  /** Inline completions served from the cache: the same request again, or typed along a cached one. */
  cacheHits: number;
  typedAlongHits: number;
  cacheMisses: number;
  /** Requests aborted because a newer inline request for the same document arrived. */
  superseded: number;
  /** Requests aborted by $/cancelRequest. */
  cancelled: number;
  /** Requests that ended with an engine error. */
  errors: number;
}

/** Settings the client sends in workspace/didChangeConfiguration under the "edit" section. */
export interface DaemonSettings {
  bundlePath?: string;
  executionProvider?: "auto" | "cpu" | "cuda" | "dml" | "coreml" | "webgpu";
  stopRule?: StopSpec;
  stopParams?: Record<string, ParamValue>;
  genLength?: number;
  blockLength?: number;
  steps?: number;
  /** ONNX Runtime intra-op threads (default 1); a change reloads the model. */
  threads?: number;
  /** K/V cache mode for every request (default "none"). */
  cache?: "none" | "prefix" | "dual";
  /** Largest edit/generate prompt in characters, refused (-32602) before tokenizing (default 1,048,576). */
  maxPromptChars?: number;
  /** Inline completions below this confidence are not shown (0 shows all); default: the calibrated gate. */
  inlineMinConfidence?: number;
  /** The gate's statistic over the shown tokens' top-1 probabilities. */
  inlineConfidenceStatistic?: "mean" | "min";
}

export const Methods = {
  generate: "edit/generate",
  status: "edit/status",
  statusDidChange: "edit/status/didChange",
} as const;

/** Messages from the extension to the trace webview and back. */
export type WebviewMessage =
  | { type: "trace"; trace: GenerationTrace }
  | { type: "begin"; prompt: string; rule: string; blocks: number; blockBudget: number }
  | { type: "step"; event: StepEvent }
  | { type: "clear" };
export type WebviewReply = { type: "ready" };
