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
const running = new Map<number, AbortController>();
const post = (m: FromWorker) => port.postMessage(m);

port.on("message", (m: ToWorker) => {
  switch (m.type) {
    case "load":
      void load(m.opts);
      break;
    case "generate":
      void generate(m.id, m.req, m.wantSteps);
      break;
    case "cancel":
      running.get(m.id)?.abort();
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

async function generate(id: number, req: Extract<ToWorker, { type: "generate" }>["req"], wantSteps: boolean): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    if (!engine) throw new Error("the inference worker has no model loaded");
    const response = await engine.generate({
      ...req,
      signal: controller.signal,
      ...(wantSteps ? { onStep: (event) => post({ type: "step", id, event }) } : {}),
    });
    post({ type: "result", id, response });
  } catch (e) {
    post({ type: "failed", id, error: serializeError(e) });
  } finally {
    running.delete(id);
  }
}

async function dispose(): Promise<void> {
  for (const c of running.values()) c.abort();
  try {
    await engine?.dispose();
  } finally {
    engine = null;
    post({ type: "disposed" });
  }
}
