/**
 * The short form of the stress suites (issues 15, 22) in the normal test run: ~1,000 fuzz messages, 200
 * generate+cancel pairs and 100 superseded inline requests, the 29 bad bundles, a 1,000-request soak,
 * 27 exit races, the worker giving up, a 10 MB prompt and special files through the daemon. Targets: 0 crashes, 0 hangs, 0 lost requests, 0 wrong codes. RSS and latency are printed, not
 * asserted here (the full `npm run test:stress` holds RSS to +10 % and records the latencies).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { badBundles } from "./bad-bundles";
import { exitRace } from "./exit-race";
import { givesUp } from "./gives-up";
import { hugePrompts } from "./huge-prompt";
import { specialFiles } from "./special-files";
import { cancelStorm, formatFigures, fuzz, soak, type Figures } from "./suites";

function check(f: Figures): void {
  process.stdout.write(`# ${formatFigures(f).split("\n").join("\n# ")}\n`);
  assert.deepEqual(
    { crashes: f.crashes, hangs: f.hangs, lost: f.lost, wrongCodes: f.wrongCodes },
    { crashes: 0, hangs: 0, lost: 0, wrongCodes: 0 },
    f.wrongExamples.join("\n"),
  );
}

test("fuzz: 1,000 seeded messages", { timeout: 180_000 }, async () => check(await fuzz(1000)));
test("cancel storm: 200 generate + cancel, 100 superseded inline requests", { timeout: 180_000 }, async () => check(await cancelStorm(200, 100)));
test("bad bundles: each corruption (and FIFO, device, folder, out-of-range number) a clear error naming its file", { timeout: 180_000 }, async () => check(await badBundles()));
test("soak: 1,000 mixed requests", { timeout: 180_000 }, async () => check(await soak(1000)));
test("exit race: shutdown / exit / stdin EOF during a generation, each cache mode, 3 rounds each (27 daemons)", { timeout: 240_000 }, async () => check(await exitRace(3)));
test("worker gives up: failed with the cause, didChange sent, a new bundle path recovers", { timeout: 120_000 }, async () => check(await givesUp()));
test("huge prompt: 10 MB edit/generate answers -32602 naming both sizes, nothing tokenized", { timeout: 120_000 }, async () => check(await hugePrompts([10])));
test("special files through the daemon: a FIFO bundle.json, /dev/zero tokenizer and metadata end in failed naming the file", { timeout: 120_000 }, async () => check(await specialFiles()));
