/**
 * The exit race (issue 22): the session ends while a generation runs. Each round starts a real
 * `serve --stdio` on the embedded bundle (it has the K/V cache graph, so every cache mode runs its own
 * path), sends `edit/generate` with a progress token and, on its first step report, ends the session
 * one of three ways: `shutdown` + `exit`, `exit` alone, or stdin closed. Targets: no abort (no signal,
 * no "terminate called" on stderr), exit code 0 after a shutdown and 1 otherwise (LSP "exit"), the
 * shutdown answered, the process gone within the bound.
 */
import type { Figures } from "./suites";
import { rawInitialize, spawnRaw, type RawDaemon } from "../daemon/raw-client";

export type EndVariant = "shutdown" | "exit" | "eof";
export const END_VARIANTS: EndVariant[] = ["shutdown", "exit", "eof"];
export const CACHE_MODES = ["none", "prefix", "dual"] as const;

/** A round that has not ended this long after the session ended counts as a hang. */
const EXIT_BOUND_MS = 10_000;

interface Round {
  aborted: boolean;
  hung: boolean;
  code: number | null;
  shutdownAnswered: boolean | null;
  shutdownMs: number | null;
  exitMs: number;
  stderrTail: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function ready(d: RawDaemon): Promise<void> {
  for (let i = 0; ; i++) {
    const id = `ready-${i}`;
    d.request(id, "edit/status");
    const a = await d.answer((x) => x.id === id);
    const state = (a.result as { state?: string } | undefined)?.state;
    if (state === "ready") return;
    if (state === "failed" || i > 600) throw new Error(`the daemon did not load the embedded bundle: ${d.stderr()}`);
    await sleep(20);
  }
}

async function round(variant: EndVariant, cache: string): Promise<Round> {
  const settings = { executionProvider: "cpu", cache };
  const d = spawnRaw({ configuration: settings });
  try {
    await rawInitialize(d, settings);
    await ready(d);
    d.request("g", "edit/generate", { prompt: "1+2", stop: "full", workDoneToken: "L" });
    const stepped = () => d.notifications.some((n) => n.method === "$/progress" && (n.params as { value?: { kind?: string } }).value?.kind === "report");
    while (!stepped() && d.child.exitCode === null) await sleep(1);
    const t0 = performance.now();
    let shutdownMs: number | null = null;
    if (variant === "shutdown") {
      d.request("sd", "shutdown");
      void d.answer((x) => x.id === "sd").then(() => (shutdownMs = performance.now() - t0));
      d.notify("exit");
    } else if (variant === "exit") d.notify("exit");
    else d.child.stdin!.end();
    const timer = setTimeout(() => d.kill(), EXIT_BOUND_MS);
    const code = await d.exited;
    clearTimeout(timer);
    const exitMs = performance.now() - t0;
    const err = d.stderr();
    return {
      aborted: d.child.signalCode !== null || /terminate called|Napi::Error|core dumped/.test(err),
      hung: exitMs >= EXIT_BOUND_MS,
      code,
      shutdownAnswered: variant === "shutdown" ? d.answers.some((a) => a.id === "sd" && !a.error) : null,
      shutdownMs,
      exitMs,
      stderrTail: err.slice(-400),
    };
  } finally {
    d.kill();
  }
}

function pct(xs: number[], q: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(10 * s[Math.min(s.length - 1, Math.floor(q * s.length))]!) / 10;
}

/** `rounds` rounds of each variant with each cache mode (3 x 3 x rounds daemons in all). */
export async function exitRace(rounds: number): Promise<Figures> {
  const wrong: string[] = [];
  let crashes = 0;
  let hangs = 0;
  let lost = 0;
  let wrongCodes = 0;
  const exitMs: number[] = [];
  const shutdownMs: number[] = [];
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    for (const cache of CACHE_MODES) {
      for (const variant of END_VARIANTS) {
        const r = await round(variant, cache);
        n++;
        exitMs.push(r.exitMs);
        if (r.shutdownMs !== null) shutdownMs.push(r.shutdownMs);
        const want = variant === "shutdown" ? 0 : 1;
        if (r.aborted) {
          crashes++;
          if (wrong.length < 5) wrong.push(`${variant}/${cache}: aborted: ${r.stderrTail}`);
        } else if (r.hung) {
          hangs++;
          if (wrong.length < 5) wrong.push(`${variant}/${cache}: still running ${EXIT_BOUND_MS} ms after the session ended`);
        } else if (r.code !== want) {
          wrongCodes++;
          if (wrong.length < 5) wrong.push(`${variant}/${cache}: exit code ${r.code}, expected ${want}`);
        }
        if (r.shutdownAnswered === false) {
          lost++;
          if (wrong.length < 5) wrong.push(`${variant}/${cache}: shutdown not answered`);
        }
      }
    }
  }
  return {
    suite: "exit race",
    messages: n,
    crashes,
    hangs,
    lost,
    wrongCodes,
    wrongExamples: wrong,
    rssStartMB: 0,
    rssEndMB: 0,
    rssPeakMB: 0,
    extra: { rounds: n, exitP50ms: pct(exitMs, 0.5), exitP99ms: pct(exitMs, 0.99), exitMaxMs: pct(exitMs, 1), shutdownP50ms: pct(shutdownMs, 0.5), shutdownMaxMs: pct(shutdownMs, 1) },
  };
}

/**
 * The session ends with nothing in flight after `gens` generations with the dual cache (issue 22: one
 * abort was seen there too): `shutdown` + `exit` and `exit` alone, `rounds` daemons each.
 */
export async function idleAfterLongSession(rounds: number, gens: number): Promise<Figures> {
  const wrong: string[] = [];
  let crashes = 0;
  let wrongCodes = 0;
  let hangs = 0;
  let n = 0;
  for (let i = 0; i < rounds; i++) {
    for (const variant of ["shutdown", "exit"] as const) {
      const settings = { executionProvider: "cpu", cache: "dual" };
      const d = spawnRaw({ configuration: settings });
      try {
        await rawInitialize(d, settings);
        await ready(d);
        for (let g = 0; g < gens; g++) {
          d.request(`g${g}`, "edit/generate", { prompt: `${g}+${i}`, stop: "full" });
          await d.answer((x) => x.id === `g${g}`);
        }
        if (variant === "shutdown") d.request("sd", "shutdown");
        d.notify("exit");
        const timer = setTimeout(() => d.kill(), EXIT_BOUND_MS);
        const code = await d.exited;
        clearTimeout(timer);
        n++;
        const want = variant === "shutdown" ? 0 : 1;
        if (d.child.signalCode !== null || /terminate called|Napi::Error/.test(d.stderr())) {
          crashes++;
          if (wrong.length < 5) wrong.push(`${variant} after ${gens} dual-cache generations: ${d.stderr().slice(-300)}`);
        } else if (code === null) hangs++;
        else if (code !== want) wrongCodes++;
      } finally {
        d.kill();
      }
    }
  }
  return { suite: "exit after a long dual-cache session", messages: n, crashes, hangs, lost: 0, wrongCodes, wrongExamples: wrong, rssStartMB: 0, rssEndMB: 0, rssPeakMB: 0, extra: { rounds: n, generationsEach: gens } };
}
