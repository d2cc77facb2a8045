/**
 * One generation at a time. A job with a `supersedeKey` (the document URI of an inline request)
 * replaces any older queued or running job with the same key: the older one is aborted (its promise
 * rejects with SupersededError at once) rather than finished. A client cancellation (the request's
 * AbortSignal) removes a queued job or aborts the running one, rejecting with CancelledError.
 */
import { CancelledError, SupersededError } from "./errors";

export interface JobOptions {
  /** Jobs with the same key supersede each other (newest wins). */
  supersedeKey?: string;
  /** The client's cancellation of this request. */
  signal?: AbortSignal;
}

interface Job {
  run: (signal: AbortSignal) => Promise<unknown>;
  controller: AbortController;
  key: string | undefined;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  detach: () => void;
}

export class GenerationQueue {
  private readonly waiting: Job[] = [];
  private running: Job | null = null;
  /** True until the running job's `run` has actually returned (the engine stops between steps). */
  private busy = false;
  private readonly listeners = new Set<() => void>();

  /** Jobs waiting plus the one running. */
  get length(): number {
    return this.waiting.length + (this.busy ? 1 : 0);
  }

  get isBusy(): boolean {
    return this.busy;
  }

  /** Called whenever `length` or `isBusy` may have changed. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  enqueue<T>(run: (signal: AbortSignal) => Promise<T>, opts: JobOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new CancelledError());
        return;
      }
      const job: Job = {
        run,
        controller: new AbortController(),
        key: opts.supersedeKey,
        resolve: resolve as (v: unknown) => void,
        reject,
        settled: false,
        detach: () => {},
      };
      if (job.key !== undefined) this.supersede(job.key);
      if (opts.signal) {
        const signal = opts.signal;
        const onAbort = () => this.abort(job, new CancelledError());
        signal.addEventListener("abort", onAbort, { once: true });
        job.detach = () => signal.removeEventListener("abort", onAbort);
      }
      this.waiting.push(job);
      this.changed();
      this.pump();
    });
  }

  /** Aborts every queued and running job (shutdown, engine reload). */
  abortAll(reason: Error): void {
    for (const job of [...this.waiting]) this.abort(job, reason);
    if (this.running) this.abort(this.running, reason);
  }

  /** Aborts the queued and running jobs that carry `key`. */
  abortKey(key: string, reason: Error): void {
    for (const job of [...this.waiting]) if (job.key === key) this.abort(job, reason);
    if (this.running && this.running.key === key) this.abort(this.running, reason);
  }

  private supersede(key: string): void {
    for (const job of [...this.waiting]) if (job.key === key) this.abort(job, new SupersededError(key));
    if (this.running && this.running.key === key) this.abort(this.running, new SupersededError(key));
  }

  private abort(job: Job, reason: Error): void {
    const i = this.waiting.indexOf(job);
    if (i >= 0) this.waiting.splice(i, 1);
    if (!job.controller.signal.aborted) job.controller.abort(reason);
    this.settle(job, () => job.reject(reason));
    this.changed();
  }

  private settle(job: Job, fn: () => void): void {
    if (job.settled) return;
    job.settled = true;
    job.detach();
    fn();
  }

  private pump(): void {
    if (this.busy) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.busy = true;
    this.running = job;
    this.changed();
    const signal = job.controller.signal;
    let result: Promise<unknown>;
    try {
      result = job.run(signal);
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (v) => this.settle(job, () => (signal.aborted ? job.reject(signal.reason) : job.resolve(v))),
      (e) => this.settle(job, () => job.reject(signal.aborted ? signal.reason : e)),
    ).finally(() => {
      this.running = null;
      this.busy = false;
      this.changed();
      this.pump();
    });
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
