/** bench's progress on stderr: elapsed and estimated time left (a fake clock; expected lines by hand). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createItemProgress, formatDuration } from "../../server/src/cli/progress";

function fakeStream(isTTY: boolean) {
  const out: string[] = [];
  return { isTTY, out, write: (s: string) => (out.push(s), true) };
}

test("durations as people read them", () => {
  assert.equal(formatDuration(41_400), "41 s");
  assert.equal(formatDuration(92_000), "1 min 32 s");
  assert.equal(formatDuration(300_000), "5 min 00 s");
});

test("a terminal gets one redrawn bar with elapsed and time left", () => {
  let t = 1000;
  const s = fakeStream(true);
  const p = createItemProgress(s, "bench", () => t, 10);
  t += 30_000; // 30 s for the first 10 of 40 items: 3 s per item, 30 left -> 90 s
  p.update(10, 40);
  assert.equal(s.out.at(-1), "\rbench [###.......] 10/40 items, 30 s elapsed, about 1 min 30 s left\x1b[K");
  t += 90_000;
  p.update(40, 40);
  assert.equal(s.out.at(-1), "\rbench [##########] 40/40 items, 2 min 00 s elapsed\x1b[K");
  p.done();
  assert.equal(s.out.at(-1), "\r\x1b[K");
});

test("a log (no terminal) gets a line per tenth of the work", () => {
  let t = 0;
  const s = fakeStream(false);
  const p = createItemProgress(s, "bench", () => t);
  for (let i = 1; i <= 20; i++) {
    t += 2000;
    p.update(i, 20);
  }
  p.done();
  assert.equal(s.out.length, 11); // the first item, then 10 %, 20 %, ..., 100 %
  assert.equal(s.out[0], "bench: 1/20 items (5 %), 2 s elapsed, about 38 s left\n");
  assert.equal(s.out[1], "bench: 2/20 items (10 %), 4 s elapsed, about 36 s left\n");
  assert.equal(s.out[10], "bench: 20/20 items (100 %), 40 s elapsed\n");
});
