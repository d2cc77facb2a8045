/**
 * `npm run test:stress`: the full stress suites (issues 15, 22) against the real daemon on the micro
 * bundle, each printing its figures, written to bench/stress-results.json. Exit code 1 when a target
 * is missed: any crash, hang, lost request or wrong code, RSS at the end of the soak above +10 % of its
 * value after warm-up (medians of the samples in a window, suites.ts soak()), or a status / cancel /
 * shutdown p99 over 50 ms during the generation storm.
 * Sizes: --fuzz N (10,001) --cancels N (1,000) --inline N (500) --soak N (100,000) --exit-rounds N (40:
 * 40 x 3 end variants x 3 cache modes = 360 daemons, exit-race.ts).
 */
// First: ONNX Runtime's telemetry off in this process too (the bad-bundle suite loads the engine here).
import "../../server/src/privacy";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { root } from "../daemon/lsp-client";
import { badBundles } from "./bad-bundles";
import { exitRace, idleAfterLongSession } from "./exit-race";
import { givesUp } from "./gives-up";
import { hugePrompts } from "./huge-prompt";
import { specialFiles } from "./special-files";
import { cancelStorm, formatFigures, fuzz, latency, soak, type Figures } from "./suites";

const { values } = parseArgs({
  options: {
    fuzz: { type: "string", default: "10001" },
    cancels: { type: "string", default: "1000" },
    inline: { type: "string", default: "500" },
    soak: { type: "string", default: "100000" },
    "exit-rounds": { type: "string", default: "40" },
    out: { type: "string", default: join(root, "bench", "stress-results.json") },
  },
});

async function main(): Promise<number> {
  const results: (Figures & { seconds: number })[] = [];
  const failures: string[] = [];
  const run = async (f: () => Promise<Figures>) => {
    const t0 = performance.now();
    const r = { ...(await f()), seconds: Math.round((performance.now() - t0) / 100) / 10 };
    results.push(r);
    process.stdout.write(`${formatFigures(r)} (${r.seconds} s)\n`);
    if (r.crashes || r.hangs || r.lost || r.wrongCodes) failures.push(`${r.suite}: crashes/hangs/lost/wrong ${r.crashes}/${r.hangs}/${r.lost}/${r.wrongCodes}`);
    return r;
  };
  await run(() => fuzz(Number(values.fuzz)));
  await run(() => cancelStorm(Number(values.cancels), Number(values.inline)));
  await run(() => badBundles());
  const s = await run(() => soak(Number(values.soak)));
  if (s.rssEndMB > 1.1 * s.rssStartMB) failures.push(`soak: RSS ${s.rssStartMB} -> ${s.rssEndMB} MB is more than +10 %`);
  await run(() => exitRace(Number(values["exit-rounds"])));
  await run(() => idleAfterLongSession(10, 50));
  await run(() => givesUp());
  await run(() => hugePrompts([10, 60]));
  await run(() => specialFiles());
  const l = await run(() => latency(20, 400));
  for (const k of ["statusP99ms", "cancelP99ms", "shutdownMs"] as const) {
    if (Number(l.extra[k]) > 50) failures.push(`latency: ${k} ${l.extra[k]} > 50 ms`);
  }
  mkdirSync(join(values.out, ".."), { recursive: true });
  writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), node: process.version, results, failures }, null, 1) + "\n");
  process.stdout.write(failures.length ? `FAILED:\n  ${failures.join("\n  ")}\n` : "all stress targets met\n");
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
