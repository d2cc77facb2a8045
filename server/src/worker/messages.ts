/**
 * The messages between the daemon's main thread and its inference worker (worker_threads). The whole
 * engine (bundle, tokenizer, ONNX session, sampler, stop rules) lives in the worker, so logits and
 * activations never cross threads: only requests, step events, results and errors do (structured
 * clones of small objects). The main thread keeps answering JSON-RPC while a forward runs.
 */
import type { EngineInfo, EngineOptions, GenerateRequest, GenerateResponse } from "../engine-types";
import type { StepEvent } from "../../../protocol/trace";

/** A generate request without the parts that cannot cross a thread (signal, callback). */
export type WorkerGenerateRequest = Omit<GenerateRequest, "signal" | "onStep">;

/** An Error flattened for postMessage: the name and fields that the daemon's error mapping reads. */
export interface SerializedError {
  name: string;
  message: string;
  /** The offending request field (RequestError, InvalidParamsError) or stop-rule parameter. */
  field?: string;
  param?: string;
  stack?: string;
}

export type ToWorker =
  | { type: "load"; opts: EngineOptions }
  /** `wantSteps`: post a `step` message per denoising step (edit/generate's $/progress). */
  | { type: "generate"; id: number; req: WorkerGenerateRequest; wantSteps: boolean }
  /** Aborts request `id`; the sampler stops at its next forward boundary. */
  | { type: "cancel"; id: number }
  | { type: "dispose" };

export type FromWorker =
  | { type: "loaded"; info: EngineInfo }
  | { type: "load-failed"; error: SerializedError }
  | { type: "step"; id: number; event: StepEvent }
  | { type: "result"; id: number; response: GenerateResponse }
  | { type: "failed"; id: number; error: SerializedError }
  | { type: "disposed" };

export function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: "Error", message: String(e) };
  const out: SerializedError = { name: e.name, message: e.message };
  const { field, param } = e as { field?: unknown; param?: unknown };
  if (typeof field === "string") out.field = field;
  if (typeof param === "string") out.param = param;
  if (e.stack) out.stack = e.stack;
  return out;
}

/** An Error with the worker error's name and fields (the daemon maps errors by name, rpc-errors.ts). */
export function deserializeError(s: SerializedError): Error {
  const e = new Error(s.message) as Error & { field?: string; param?: string };
  Object.defineProperty(e, "name", { value: s.name, enumerable: false, configurable: true, writable: true });
  if (s.field !== undefined) e.field = s.field;
  if (s.param !== undefined) e.param = s.param;
  if (s.stack) e.stack = s.stack;
  return e;
}
