/**
 * Debounce + supersession for inline-completion requests. VS Code cancels the previous request's token
 * when the user types; on top of that we (1) wait `debounceMs` before asking the daemon at all, and
 * (2) cancel every older in-flight request as soon as a newer one starts, so the daemon's queue only
 * ever holds the latest prompt. No vscode import: unit-tested in test/client/debounce.test.ts.
 */

/** The part of vscode.CancellationToken we use (structurally compatible). */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export type Timer = { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
const realTimer: Timer = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };

/** Resolves true after `ms`, or false as soon as `token` is cancelled (or already was). */
export function debounceDelay(ms: number, token: CancellationLike, timer: Timer = realTimer): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      timer.clearTimeout(handle);
      sub.dispose();
      resolve(false);
    });
    const handle = timer.setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}

/** A request's ticket: cancelled when the editor cancels it or when a newer request supersedes it. */
export class Ticket implements CancellationLike {
  private cancelled = false;
  private listeners: Array<() => void> = [];
  constructor(readonly seq: number) {}
  get isCancellationRequested(): boolean {
    return this.cancelled;
  }
  onCancellationRequested(listener: () => void): { dispose(): void } {
    if (this.cancelled) {
      listener();
      return { dispose() {} };
    }
    this.listeners.push(listener);
    return { dispose: () => void (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const ls = this.listeners;
    this.listeners = [];
    for (const l of ls) l();
  }
}

export class Supersession {
  private seq = 0;
  private inflight = new Map<number, Ticket>();
  /** Counters for the status/log output and the tests. */
  readonly stats = { started: 0, superseded: 0, completed: 0 };

  /** Starts a request linked to the editor's token; supersedes (cancels) all older ones. */
  begin(editorToken?: CancellationLike): Ticket {
    const ticket = new Ticket(++this.seq);
    for (const old of this.inflight.values()) {
      old.cancel();
      this.stats.superseded += 1;
    }
    this.inflight.clear();
    this.inflight.set(ticket.seq, ticket);
    this.stats.started += 1;
    if (editorToken) {
      if (editorToken.isCancellationRequested) ticket.cancel();
      else {
        const sub = editorToken.onCancellationRequested(() => ticket.cancel());
        ticket.onCancellationRequested(() => sub.dispose());
      }
    }
    return ticket;
  }

  /** Marks a request finished; returns true when its result is still the latest one (worth showing). */
  end(ticket: Ticket): boolean {
    this.inflight.delete(ticket.seq);
    const fresh = !ticket.isCancellationRequested && ticket.seq === this.seq;
    if (fresh) this.stats.completed += 1;
    return fresh;
  }

  get latest(): number {
    return this.seq;
  }
}

/**
 * The inline-completion middleware body, independent of vscode: debounce, then call `next` with a
 * token that is cancelled on typing or supersession; drop stale results.
 */
export async function debouncedRequest<T>(
  supersession: Supersession,
  debounceMs: number,
  editorToken: CancellationLike,
  next: (token: CancellationLike) => Promise<T | null | undefined> | T | null | undefined,
  timer: Timer = realTimer,
): Promise<T | null> {
  const ticket = supersession.begin(editorToken);
  try {
    if (!(await debounceDelay(debounceMs, ticket, timer))) return null;
    const result = await next(ticket);
    return ticket.isCancellationRequested ? null : (result ?? null);
  } finally {
    supersession.end(ticket);
  }
}
