import { test } from "node:test";
import assert from "node:assert/strict";
import { debounceDelay, debouncedRequest, Supersession, Ticket, type Timer } from "../../client/src/debounce";

/** A manual clock: timers fire only when the test advances time. */
class FakeTimer implements Timer {
  now = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  async advance(ms: number): Promise<void> {
    this.now += ms;
    const due = this.timers.filter((t) => t.at <= this.now);
    this.timers = this.timers.filter((t) => t.at > this.now);
    for (const t of due) t.fn();
    await new Promise((r) => setImmediate(r));
  }
  get pending(): number {
    return this.timers.length;
  }
}

test("debounceDelay resolves true after the delay, false when cancelled first", async () => {
  const timer = new FakeTimer();
  const t1 = new Ticket(1);
  const p1 = debounceDelay(150, t1, timer);
  await timer.advance(149);
  const t2 = new Ticket(2);
  const p2 = debounceDelay(150, t2, timer);
  t2.cancel();
  await timer.advance(1);
  assert.equal(await p1, true);
  assert.equal(await p2, false);
  assert.equal(timer.pending, 0);
});

test("typing within the debounce window sends only the last request", async () => {
  const timer = new FakeTimer();
  const s = new Supersession();
  const sent: string[] = [];
  const request = (text: string) =>
    debouncedRequest(s, 150, new Ticket(0), async () => {
      sent.push(text);
      return `completion for ${text}`;
    }, timer);
  const a = request("1");
  await timer.advance(50);
  const b = request("12");
  await timer.advance(50);
  const c = request("123");
  await timer.advance(150);
  assert.deepEqual(await Promise.all([a, b, c]), [null, null, "completion for 123"]);
  assert.deepEqual(sent, ["123"]);
  assert.deepEqual(s.stats, { started: 3, superseded: 2, completed: 1 });
});

test("a request in flight is cancelled when a newer one starts, and its late result is dropped", async () => {
  const timer = new FakeTimer();
  const s = new Supersession();
  let release!: (v: string) => void;
  let firstToken: { isCancellationRequested: boolean } | null = null;
  const first = debouncedRequest(s, 0, new Ticket(0), (token) => {
    firstToken = token;
    return new Promise<string>((r) => (release = r));
  }, timer);
  await new Promise((r) => setImmediate(r));
  const second = debouncedRequest(s, 0, new Ticket(0), async () => "new", timer);
  assert.equal(firstToken!.isCancellationRequested, true);
  release("old");
  assert.equal(await first, null);
  assert.equal(await second, "new");
});

test("the editor's cancellation (a keystroke) cancels the ticket", async () => {
  const timer = new FakeTimer();
  const s = new Supersession();
  const editor = new Ticket(0);
  let called = false;
  const p = debouncedRequest(s, 150, editor, async () => {
    called = true;
    return "x";
  }, timer);
  editor.cancel();
  await timer.advance(200);
  assert.equal(await p, null);
  assert.equal(called, false);
});
