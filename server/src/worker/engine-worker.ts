/**
 * The inference worker's entry point (a worker_threads Worker started by worker-engine.ts; bundled by
 * esbuild to dist/engine-worker.js). It loads the real engine and runs one generation at a time for
 * the main thread; cancellation aborts the request's AbortController, which the sampler checks at every
 * forward boundary (sampler/denoise.ts).
 */
import { parentPort } from "node:worker_threads";
// First: ONNX Runtime's telemetry off before the engine's import loads onnxruntime-node (privacy.ts).
import { disableOrtTelemetry } from "../privacy";
import type { Engine } from "../engine-types";
import { loadEngine } from "../engine";
import { serializeError, type FromWorker, type ToWorker } from "./messages";

disableOrtTelemetry();
const port = parentPort;
if (!port) throw new Error("engine-worker.ts must run in a worker thread (worker-engine.ts starts it)");

let engine: Engine | null = null;
/** Set by dispose: no generation starts on a session that is being released. */
let disposing = false;
/** The load in progress: dispose waits for it, so the session is never created while being released. */
let loading: Promise<void> | null = null;
/** The generations in flight: dispose waits for each to leave its forward before releasing the session. */
const running = new Map<number, { controller: AbortController; done: Promise<void> }>();
const post = (m: FromWorker) => port.postMessage(m);

port.on("message", (m: ToWorker) => {
  switch (m.type) {
    case "load":
      loading = load(m.opts);
      break;
    case "generate":
      // Fault injection for the stress suite's worker-gives-up scenario (test/stress/gives-up.ts):
      // the worker ends as a native crash would. Read per request, so nothing else changes.
      if (process.env.EDIT_DLLM_FAULT === "worker-exit-on-generate") process.exit(70);
      generate(m.id, m.req, m.wantSteps);
      break;
    case "cancel":
      running.get(m.id)?.controller.abort();
      break;
    case "dispose":
      void dispose();
      break;
  }
});

async function load(opts: Extract<ToWorker, { type: "load" }>["opts"]): Promise<void> {
  try {
    const loaded = await loadEngine(opts);
    engine = loaded;
    post({ type: "loaded", info: loaded.info });
  } catch (e) {
    post({ type: "load-failed", error: serializeError(e) });
  }
}

function generate(id: number, req: Extract<ToWorker, { type: "generate" }>["req"], wantSteps: boolean): void {
  const controller = new AbortController();
  const done = runGeneration(id, req, wantSteps, controller);
  running.set(id, { controller, done });
  void done.finally(() => running.delete(id));
}

async function runGeneration(id: number, req: Extract<ToWorker, { type: "generate" }>["req"], wantSteps: boolean, controller: AbortController): Promise<void> {
  try {
    if (disposing) throw new Error("the model is being released (the daemon is shutting down or reloading)");
    if (!engine) throw new Error("the inference worker has no model loaded");
    const response = await engine.generate({
      ...req,
      signal: controller.signal,
      ...(wantSteps ? { onStep: (event) => post({ type: "step", id, event }) } : {}),
    });
    post({ type: "result", id, response });
  } catch (e) {
    post({ type: "failed", id, error: serializeError(e) });
  }
}

/**
 * Lets go of the session in the one order that cannot abort the process (issue 22): abort every
 * generation, wait until each has returned from its forward (the sampler checks the signal at every
 * forward boundary, sampler/denoise.ts), wait for a load in progress, release the ONNX session, and only
 * then say "disposed". The main thread ends this thread only after that message: ending it while
 * onnxruntime-node's synchronous run() is on the stack makes the binding throw a C++ Napi::Error
 * into a terminating isolate, and std::terminate aborts the whole daemon (SIGABRT).
 */
async function dispose(): Promise<void> {
  disposing = true;
  for (const r of running.values()) r.controller.abort();
  try {
    await Promise.allSettled([...running.values()].map((r) => r.done));
    await loading?.catch(() => undefined);
    await engine?.dispose();
  } catch (e) {
    process.stderr.write(`edit-dllm: releasing the model failed: ${e instanceof Error ? e.message : String(e)}\n`);
  } finally {
    engine = null;
    post({ type: "disposed" });
  }
}
