/**
 * Counts a daemon's failures at start: a start that failed, or a process that died within
 * `graceMs` of running. Restarting forever is right for a daemon that crashes now and then (see
 * backoff.ts), wrong for one that cannot start at all (a broken install, a missing native library):
 * after `limit` such failures in a row the client stops and says why. No vscode import: unit-tested
 * in test/client/startFailures.test.ts.
 */
export class StartFailures {
  private count = 0;
  private last = "";

  constructor(
    readonly limit = 5,
    private readonly graceMs = 10_000,
  ) {}

  /** Records a failure `uptimeMs` after the daemon was running (0: it never ran); true when it is time to give up. */
  record(uptimeMs: number, reason: string): boolean {
    if (uptimeMs >= this.graceMs) this.count = 0; // it ran fine for a while: an ordinary crash
    this.count += 1;
    this.last = reason;
    return this.count >= this.limit;
  }

  reset(): void {
    this.count = 0;
    this.last = "";
  }

  get failures(): number {
    return this.count;
  }

  summary(): string {
    return `the daemon failed at start ${this.count} times in a row (last: ${this.last})`;
  }
}
