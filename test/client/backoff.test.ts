import { test } from "node:test";
import assert from "node:assert/strict";
import { RestartBackoff } from "../../client/src/backoff";

const opts = { initialMs: 1000, factor: 2, maxMs: 10_000, stableMs: 60_000 };

test("delays double per crash and cap at maxMs, beyond the library's 5 restarts", () => {
  const b = new RestartBackoff(opts);
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    b.markStarted(i * 100);
    delays.push(b.nextDelay(i * 100 + 50).delayMs);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  assert.equal(b.attempts, 7);
});

test("a daemon that stayed up for stableMs starts the schedule over", () => {
  const b = new RestartBackoff(opts);
  b.nextDelay(0);
  b.nextDelay(10);
  b.markStarted(1000);
  assert.deepEqual(b.nextDelay(1000 + 60_000), { delayMs: 1000, attempt: 1 });
});

test("a crash before stableMs keeps escalating; reset() starts over", () => {
  const b = new RestartBackoff(opts);
  b.nextDelay(0);
  b.markStarted(1000);
  assert.deepEqual(b.nextDelay(1000 + 59_999), { delayMs: 2000, attempt: 2 });
  b.reset();
  assert.deepEqual(b.nextDelay(0), { delayMs: 1000, attempt: 1 });
});
