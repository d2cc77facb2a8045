/**
 * Restart schedule for the daemon. vscode-languageclient's default error handler gives up after 5
 * crashes in 3 minutes; an editor session lasts hours, so we keep restarting with exponential
 * backoff (capped) and forget old crashes once the daemon has stayed up for `stableMs`.
 * No vscode import: unit-tested in test/client/backoff.test.ts.
 */
export interface BackoffOptions {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** A daemon that ran this long before crashing resets the schedule. */
  stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, factor: 2, maxMs: 60_000, stableMs: 120_000 };

export class RestartBackoff {
  private attempt = 0;
  private startedAt: number | null = null;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Call when the daemon has started successfully. */
  markStarted(now: number): void {
    this.startedAt = now;
  }

  /** Call when the daemon died or failed to start; returns the delay before the next start and the attempt number (1-based). */
  nextDelay(now: number): { delayMs: number; attempt: number } {
    if (this.startedAt !== null && now - this.startedAt >= this.opts.stableMs) this.attempt = 0;
    this.startedAt = null;
    const delayMs = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.factor ** this.attempt);
    this.attempt += 1;
    return { delayMs, attempt: this.attempt };
  }

  /** A manual restart (command) starts the schedule over. */
  reset(): void {
    this.attempt = 0;
    this.startedAt = null;
  }

  get attempts(): number {
    return this.attempt;
  }
}
