import { test } from "node:test";
import assert from "node:assert/strict";
import { GenerationQueue } from "../../server/src/daemon/queue";
import { CancelledError, SupersededError } from "../../server/src/daemon/errors";

/** A job that runs until released or aborted, recording what happened, like an engine between steps. */
function controllable(log: string[], name: string) {
  let release!: (v: string) => void;
  const run = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      log.push(`start ${name}`);
      release = (v) => resolve(v);
      signal.addEventListener("abort", () => {
        log.push(`abort ${name}`);
        reject(new Error("engine stopped"));
      });
    });
  return { run, release: (v: string) => release(v) };
}

const tick = () => new Promise((r) => setImmediate(r));

test("runs one job at a time, in order", async () => {
  const q = new GenerationQueue();
  const log: string[] = [];
  const a = controllable(log, "a");
  const b = controllable(log, "b");
  const pa = q.enqueue(a.run);
  const pb = q.enqueue(b.run);
  await tick();
  assert.deepEqual(log, ["start a"]);
  assert.equal(q.length, 2);
  a.release("A");
  assert.equal(await pa, "A");
  await tick();
  assert.deepEqual(log, ["start a", "start b"]);
  b.release("B");
  assert.equal(await pb, "B");
  await tick();
  assert.equal(q.length, 0);
  assert.equal(q.isBusy, false);
});

test("a newer job with the same key supersedes the running one (aborted, not finished)", async () => {
  const q = new GenerationQueue();
  const log: string[] = [];
  const a = controllable(log, "a");
  const b = controllable(log, "b");
  const pa = q.enqueue(a.run, { supersedeKey: "file:///x" });
  await tick();
  const pb = q.enqueue(b.run, { supersedeKey: "file:///x" });
  await assert.rejects(pa, SupersededError);
  await tick();
  assert.deepEqual(log, ["start a", "abort a", "start b"]);
  b.release("B");
  assert.equal(await pb, "B");
});

test("a newer job supersedes a queued one with the same key; other keys are untouched", async () => {
  const q = new GenerationQueue();
  const log: string[] = [];
  const running = controllable(log, "other");
  const stale = controllable(log, "stale");
  const fresh = controllable(log, "fresh");
  const pOther = q.enqueue(running.run, { supersedeKey: "file:///other" });
  const pStale = q.enqueue(stale.run, { supersedeKey: "file:///x" });
  const pFresh = q.enqueue(fresh.run, { supersedeKey: "file:///x" });
  await assert.rejects(pStale, SupersededError);
  running.release("O");
  assert.equal(await pOther, "O");
  await tick();
  fresh.release("F");
  assert.equal(await pFresh, "F");
  assert.deepEqual(log, ["start other", "start fresh"]);
});

test("client cancellation rejects at once; the next job starts only after the engine returned", async () => {
  const q = new GenerationQueue();
  const log: string[] = [];
  let finishEngine!: () => void;
  // An engine that notices the abort only at its next step boundary.
  const slow = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      log.push("start slow");
      finishEngine = () => (signal.aborted ? reject(new Error("aborted")) : resolve("done"));
    });
  const next = controllable(log, "next");
  const ac = new AbortController();
  const pSlow = q.enqueue(slow, { signal: ac.signal });
  const pNext = q.enqueue(next.run);
  await tick();
  ac.abort();
  await assert.rejects(pSlow, CancelledError);
  await tick();
  assert.deepEqual(log, ["start slow"]);
  assert.equal(q.isBusy, true);
  finishEngine();
  await tick();
  await tick();
  assert.deepEqual(log, ["start slow", "start next"]);
  next.release("N");
  assert.equal(await pNext, "N");
});

test("cancelling a queued job removes it without running it; an already-aborted signal never queues", async () => {
  const q = new GenerationQueue();
  const log: string[] = [];
  const a = controllable(log, "a");
  const b = controllable(log, "b");
  const pa = q.enqueue(a.run);
  const ac = new AbortController();
  const pb = q.enqueue(b.run, { signal: ac.signal });
  ac.abort();
  await assert.rejects(pb, CancelledError);
  assert.equal(q.length, 1);
  const done = new AbortController();
  done.abort();
  await assert.rejects(q.enqueue(b.run, { signal: done.signal }), CancelledError);
  a.release("A");
  assert.equal(await pa, "A");
  await tick();
  assert.deepEqual(log, ["start a"]);
});

test("a job resolved after it was superseded still counts as superseded", async () => {
  const q = new GenerationQueue();
  let resolveIt!: (v: string) => void;
  const p = q.enqueue(() => new Promise<string>((r) => (resolveIt = r)), { supersedeKey: "k" });
  await tick();
  const p2 = q.enqueue(async () => "new", { supersedeKey: "k" });
  resolveIt("old");
  await assert.rejects(p, SupersededError);
  assert.equal(await p2, "new");
});
