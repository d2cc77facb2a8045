/**
 * The Engine interface (engine-types.ts) backed by an inference worker thread (engine-worker.ts), so
 * the daemon's JSON-RPC loop is never blocked by a forward: status, cancel and shutdown are answered
 * while the worker computes. A crashed worker fails its pending requests with a clear error and is
 * started again with the same options (a few times in a row at most).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { Engine, EngineInfo, EngineOptions, GenerateRequest, GenerateResponse } from "../engine-types";
import type { StepEvent } from "../../../protocol/trace";
import { RequestError } from "../errors";
import { deserializeError, type FromWorker, type ToWorker, type WorkerGenerateRequest } from "./messages";

/** The worker died (native crash, out of memory, process.exit in a dependency); the engine restarts it. */
export class WorkerCrashedError extends Error {
  override readonly name = "WorkerCrashedError";
  constructor(detail: string) {
    super(`the inference worker stopped unexpectedly (${detail}); the model is being reloaded, try again`);
  }
}

/** Crashes within this window count towards the restart limit. */
const CRASH_WINDOW_MS = 60_000;
const MAX_CRASHES_IN_WINDOW = 3;
/**
 * The worker is ended only after it said "disposed" (its forward returned and its session is released,
 * engine-worker.ts dispose()). Only a worker stuck in native code this long is ended without that,
 * with a line on stderr: ending it mid-forward can abort the process (issue 22).
 */
const DISPOSE_TIMEOUT_MS = 60_000;

interface Pending {
  resolve: (r: GenerateResponse) => void;
  reject: (e: Error) => void;
  onStep?: (event: StepEvent) => void;
  detach: () => void;
}

/**
 * The worker's code: beside the esbuild bundle (dist/engine-worker.js), else the TS source under tsx
 * (tests, `node --import tsx server/src/cli.ts`), where a worker cannot take a .ts path: a tiny eval'd
 * CommonJS script registers tsx's require hook in the worker and requires the source.
 */
function workerEntry(): { script: string; eval: boolean } {
  if (!__filename.endsWith(".ts")) {
    const bundled = join(__dirname, "engine-worker.js");
    if (existsSync(bundled)) return { script: bundled, eval: false };
    throw new Error(`the inference worker bundle is missing at ${bundled}: run \`npm run build\``);
  }
  const source = join(__dirname, "engine-worker.ts");
  return { script: `require("tsx/cjs/api").register(); require(${JSON.stringify(source)});`, eval: true };
}

/** Starts an inference worker and loads the engine in it; resolves once the model is loaded. */
export async function loadWorkerEngine(opts: EngineOptions = {}): Promise<Engine> {
  const engine = new WorkerEngine(opts);
  try {
    await engine.start();
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return engine;
}

export class WorkerEngine implements Engine {
  private worker: Worker | null = null;
  private infoNow: EngineInfo | null = null;
  /** Settles when the current worker has loaded the model (or failed to). */
  private loaded: Promise<void> = Promise.resolve();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposing = false;
  private crashes: number[] = [];
  private onLoaded: ((e?: Error) => void) | null = null;
  private onDisposed: (() => void) | null = null;
  private readonly gaveUpListeners: ((cause: Error) => void)[] = [];

  constructor(private readonly opts: EngineOptions) {}

  get info(): EngineInfo {
    if (!this.infoNow) throw new Error("WorkerEngine.info read before the model was loaded");
    return this.infoNow;
  }

  onGaveUp(listener: (cause: Error) => void): void {
    this.gaveUpListeners.push(listener);
  }

  /** Requests sent to the worker and not yet settled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  start(): Promise<void> {
    const entry = workerEntry();
    // The worker's environment: ours, with ONNX Runtime's telemetry off (privacy.ts).
    const worker = new Worker(entry.script, { eval: entry.eval, execArgv: [], env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" }, stdout: true, stderr: true });
    this.worker = worker;
    // The daemon's stdout carries the protocol: anything the worker prints goes to stderr.
    worker.stdout.pipe(process.stderr, { end: false });
    worker.stderr.pipe(process.stderr, { end: false });
    this.loaded = new Promise<void>((resolve, reject) => {
      this.onLoaded = (e) => (e ? reject(e) : resolve());
    });
    // A failed (re)load must not surface as an unhandled rejection; callers await `loaded` themselves.
    this.loaded.catch(() => undefined);
    worker.on("message", (m: FromWorker) => this.receive(m));
    worker.on("error", (e) => this.crashed(worker, `${e.name}: ${e.message}`));
    worker.on("exit", (code) => this.crashed(worker, `exit code ${code}`));
    this.post({ type: "load", opts: this.opts });
    return this.loaded;
  }

  async generate(req: GenerateRequest): Promise<GenerateResponse> {
    if (this.disposing) throw new Error("the engine was disposed");
    // Task names are checked as the bundle's own keys here: "constructor" or "__proto__" never reach
    // the bundle's plain-object lookup.
    if (req.task !== undefined && this.infoNow && !this.infoNow.tasks.includes(req.task)) {
      throw new RequestError("task", `one of ${this.infoNow.tasks.join(", ")}`, JSON.stringify(req.task.length > 40 ? req.task.slice(0, 40) + "..." : req.task));
    }
    await this.loaded;
    const { signal, onStep, ...rest } = req;
    if (signal?.aborted) throw deserializeError({ name: "CancelledError", message: "generation cancelled" });
    const id = this.nextId++;
    const plain: WorkerGenerateRequest = rest;
    return new Promise<GenerateResponse>((resolve, reject) => {
      const onAbort = () => {
        // Steps already posted by the worker may still arrive: the caller hears none after its cancel.
        const p = this.pending.get(id);
        if (p) delete p.onStep;
        this.post({ type: "cancel", id });
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        resolve,
        reject,
        ...(onStep ? { onStep } : {}),
        detach: () => signal?.removeEventListener("abort", onAbort),
      });
      this.post({ type: "generate", id, req: plain, wantSteps: onStep !== undefined });
    });
  }

  async dispose(): Promise<void> {
    if (this.disposing) return this.released;
    this.disposing = true;
    this.released = this.release();
    return this.released;
  }

  /** Settles once dispose() has ended the worker (shutdown and exit wait for it, daemon/index.ts). */
  private released: Promise<void> = Promise.resolve();

  private async release(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        process.stderr.write(`edit-dllm: the inference worker did not release the model within ${DISPOSE_TIMEOUT_MS / 1000} s; ending it\n`);
        finish();
      }, DISPOSE_TIMEOUT_MS);
      // A worker that ends by itself meanwhile (a crash) holds nothing any more either.
      const finish = () => {
        clearTimeout(timer);
        worker.off("exit", finish);
        this.onDisposed = null;
        resolve();
      };
      this.onDisposed = finish;
      worker.once("exit", finish);
      this.post({ type: "dispose" });
    });
    this.failAll(new Error("the engine was disposed"));
    this.worker = null;
    await worker.terminate();
  }

  /** Test seam: ends the worker as a crash would (the engine restarts it). */
  async crashWorkerForTest(): Promise<void> {
    await this.worker?.terminate();
  }

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private receive(m: FromWorker): void {
    switch (m.type) {
      case "loaded":
        this.infoNow = m.info;
        this.onLoaded?.();
        break;
      case "load-failed":
        this.onLoaded?.(deserializeError(m.error));
        break;
      case "step":
        this.pending.get(m.id)?.onStep?.(m.event);
        break;
      case "result":
        this.settle(m.id, (p) => p.resolve(m.response));
        break;
      case "failed":
        this.settle(m.id, (p) => p.reject(deserializeError(m.error)));
        break;
      case "disposed":
        this.onDisposed?.();
        break;
    }
  }

  private settle(id: number, fn: (p: Pending) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.detach();
    fn(p);
  }

  private failAll(e: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(e));
  }

  /** The worker ended without being asked to: fail its requests, then start a new one (bounded). */
  private crashed(worker: Worker, detail: string): void {
    if (worker !== this.worker || this.disposing) return;
    this.worker = null;
    const error = new WorkerCrashedError(detail);
    this.failAll(error);
    this.onLoaded?.(error);
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    void worker.terminate();
    if (this.crashes.length > MAX_CRASHES_IN_WINDOW) {
      const gaveUp = new Error(`the inference worker crashed ${this.crashes.length} times within a minute (last: ${detail}); restart the daemon`);
      this.loaded = Promise.reject(gaveUp);
      this.loaded.catch(() => undefined);
      process.stderr.write(`edit-dllm: ${gaveUp.message}\n`);
      for (const l of this.gaveUpListeners) l(gaveUp);
      return;
    }
    process.stderr.write(`edit-dllm: inference worker stopped (${detail}); restarting it\n`);
    this.start().catch(() => undefined);
  }
}
