/**
 * The daemon's stress suites (issue 15), each against a real `serve --stdio` process over raw bytes
 * and each returning its figures: messages sent, crashes, hangs, lost requests, wrong codes, RSS at
 * start (after warm-up) / end / peak. Expected codes come from the JSON-RPC 2.0 and LSP
 * specifications (the classes below), never from the daemon's own answers.
 *   fuzz: seeded mix of valid and hostile requests, notifications, bad framing and split writes.
 *   cancel storm: generate + $/cancelRequest pairs with progress tokens, plus superseded inline requests.
 *   soak: many mixed requests with varying prompt lengths; RSS sampled throughout.
 *   latency: edit/status, $/cancelRequest and shutdown round trips while generations queue up.
 */
import { readFileSync } from "node:fs";
import { microBundle } from "../daemon/lsp-client";
import { frame, rawInitialize, spawnRaw, type RawAnswer, type RawDaemon } from "../daemon/raw-client";

export interface Figures {
  suite: string;
  messages: number;
  crashes: number;
  hangs: number;
  lost: number;
  wrongCodes: number;
  /** A few examples of wrong answers, for the report. */
  wrongExamples: string[];
  rssStartMB: number;
  rssEndMB: number;
  rssPeakMB: number;
  extra: Record<string, number | string>;
}

const OK = "result";
const InvalidRequest = -32600;
const InvalidParams = -32602;
const MethodNotFound = -32601;
const RequestCancelled = -32800;
const RequestFailed = -32803;
const ParseError = -32700;

/** Deterministic PRNG (mulberry32) so a failing run can be replayed with its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** VmRSS of a process in MB (Linux /proc; 0 where unavailable). */
export function rssMB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

const settings = { bundlePath: microBundle, executionProvider: "cpu" };

async function startReady(): Promise<RawDaemon> {
  const d = spawnRaw({ configuration: settings });
  await rawInitialize(d, settings);
  for (let i = 0; ; i++) {
    const id = `ready-${i}`;
    d.request(id, "edit/status");
    const a = await d.answer((x) => x.id === id);
    if ((a.result as { state?: string } | undefined)?.state === "ready") return d;
    if ((a.result as { state?: string } | undefined)?.state === "failed") throw new Error(`the daemon could not load the micro bundle: ${d.stderr()}`);
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `done()` or the daemon exits or `ms` pass; true when done. */
async function waitFor(d: RawDaemon, done: () => boolean, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (!done()) {
    if (d.child.exitCode !== null || d.child.signalCode !== null) return false;
    if (Date.now() - t0 > ms) return false;
    await sleep(20);
  }
  return true;
}

/** The code (or "result") an answer carries. */
function codeOf(a: RawAnswer): number | "result" {
  return a.error ? a.error.code : OK;
}

interface Expectation {
  allowed: (number | "result")[];
  what: string;
}

class Tracker {
  readonly expected = new Map<string | number, Expectation>();
  nullAnswersExpected = 0;
  messages = 0;
  readonly wrong: string[] = [];
  rssPeak = 0;

  constructor(readonly d: RawDaemon) {}

  request(id: string | number, method: string, params: unknown, exp: Expectation, split?: () => number): void {
    this.expected.set(id, exp);
    const body = JSON.stringify({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) });
    this.writeFrame(body, split);
  }

  writeFrame(body: string, split?: () => number): void {
    this.messages++;
    const f = frame(body);
    if (!split) return this.d.write(f);
    const cut = 1 + Math.floor(split() * (f.length - 1));
    this.d.write(f.subarray(0, cut));
    this.d.write(f.subarray(cut));
  }

  raw(bytes: string): void {
    this.messages++;
    this.d.write(bytes);
  }

  /** Expected requests without an answer yet, plus missing id-null answers. */
  unanswered(): number {
    const ids = new Set<string | number>();
    let nulls = 0;
    for (const a of this.d.answers) {
      if (a.id === null) nulls++;
      else ids.add(a.id);
    }
    let n = Math.max(0, this.nullAnswersExpected - nulls);
    for (const id of this.expected.keys()) if (!ids.has(id)) n++;
    return n;
  }

  sampleRss(): number {
    const r = rssMB(this.d.child.pid);
    this.rssPeak = Math.max(this.rssPeak, r);
    return r;
  }

  /** Checks every answer against its expectation; returns [lost, wrong]. */
  settle(): { lost: number; wrong: number } {
    const byId = new Map<string | number, RawAnswer[]>();
    let nullAnswers = 0;
    for (const a of this.d.answers) {
      if (a.id === null) {
        nullAnswers++;
        continue;
      }
      const list = byId.get(a.id) ?? [];
      list.push(a);
      byId.set(a.id, list);
    }
    let lost = 0;
    for (const [id, exp] of this.expected) {
      const got = byId.get(id) ?? [];
      if (got.length === 0) {
        lost++;
        if (lost <= 5) this.wrong.push(`LOST ${exp.what} (id ${id})`);
        continue;
      }
      if (got.length > 1) this.note(`${exp.what} (id ${id}): ${got.length} answers`);
      const a = got[0];
      if (!exp.allowed.includes(codeOf(a))) this.note(`${exp.what} (id ${id}): ${JSON.stringify(a.error ?? a.result).slice(0, 200)}`);
      else if (a.error && /TypeError|Cannot read properties/.test(a.error.message)) this.note(`${exp.what} (id ${id}): ${a.error.message.slice(0, 200)}`);
    }
    if (nullAnswers !== this.nullAnswersExpected) this.note(`${nullAnswers} answers with id null, expected ${this.nullAnswersExpected}`);
    return { lost, wrong: this.wrong.filter((w) => !w.startsWith("LOST")).length };
  }

  private note(s: string): void {
    this.wrong.push(s);
  }
}

const GEN_ANSWERS: (number | "result")[] = [OK, InvalidParams, RequestFailed, RequestCancelled];
const INLINE_ANSWERS: (number | "result")[] = [OK, RequestFailed, RequestCancelled];

function promptOf(r: () => number, max: number): string {
  const alphabet = "0123456789+-*>= ";
  const n = Math.floor(r() * max);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** Hostile frames: none gets an answer (a refused header), each is logged. */
const BAD_FRAMES = [
  'Content-Length: -300\r\n\r\n{"x":1}\r\n\r\n',
  "Content-Length: 1e20\r\n\r\n",
  "Content-Length: 100000000000000000000\r\n\r\n{}",
  "Content-Length: 12abc\r\n\r\n{}",
  "Content-Type: application/json\r\n\r\n{}",
  "garbage without any header\r\n\r\n",
  "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
];

/**
 * The fuzz suite: `n` messages from a seeded generator. Every request with a usable id must get
 * exactly one answer with a code its class allows; unusable ids and unparseable JSON one answer with
 * id null each; bad headers none (and no wedge: the requests after them are answered).
 */
export async function fuzz(n: number, seed = 1): Promise<Figures> {
  const d = await startReady();
  const t = new Tracker(d);
  const r = rng(seed);
  const docs: string[] = [];
  const genIds: string[] = [];
  let rssStart = 0;
  const split = () => r();
  try {
    for (let i = 0; i < n; i++) {
      // RSS "start" after a warm-up of 40 % (the two V8 heaps, ONNX Runtime's arena and the
      // tokenizer's word cache reach their steady size over the first few thousand messages).
      if (i === Math.floor((n * 2) / 5)) {
        await waitFor(d, () => t.unanswered() === 0, 60_000);
        rssStart = t.sampleRss();
      }
      if (i % 50 === 0) {
        t.sampleRss();
        if (process.env.EDIT_STRESS_VERBOSE && i % 1000 === 0) process.stderr.write(`fuzz ${i}: RSS ${round(t.sampleRss())} MB\n`);
        // Let the daemon drain a little, as a real client's pace would.
        await waitFor(d, () => t.unanswered() <= 20, 60_000);
      }
      const id = `f${i}`;
      const k = r();
      const maybeSplit = r() < 0.2 ? split : undefined;
      if (k < 0.15) t.request(id, "edit/status", r() < 0.5 ? undefined : null, { allowed: [OK], what: "status" }, maybeSplit);
      else if (k < 0.27) {
        genIds.push(id);
        const long = r() < 0.2;
        t.request(id, "edit/generate", { prompt: promptOf(r, long ? 5000 : 40), ...(r() < 0.3 ? { stop: "full" } : {}) }, { allowed: GEN_ANSWERS, what: long ? "generate (long prompt)" : "generate" }, maybeSplit);
      } else if (k < 0.37) {
        const bad = [
          [{ prompt: "1", task: ["constructor", "__proto__", "toString", "valueOf", "nope"][Math.floor(r() * 5)] }, "generate, task not in the bundle"],
          [[{ prompt: "1" }], "generate, array params"],
          [null, "generate, null params"],
          [{ prompt: 42 }, "generate, prompt a number"],
          [{ prompt: "1", stop: ["nope", "constructor", 7, ""][Math.floor(r() * 4)] }, "generate, bad stop"],
          [{ prompt: "1", params: { tau: { x: 1 } } }, "generate, bad param value"],
          [{ prompt: "1", params: ["a"] }, "generate, params an array"],
        ] as const;
        const [params, what] = bad[Math.floor(r() * bad.length)];
        t.request(id, "edit/generate", params, { allowed: [InvalidParams], what }, maybeSplit);
      } else if (k < 0.45) {
        if (docs.length && r() < 0.7) {
          const uri = docs[Math.floor(r() * docs.length)];
          t.request(id, "textDocument/inlineCompletion", { textDocument: { uri }, position: { line: 0, character: Math.floor(r() * 30) }, context: { triggerKind: 2 } }, { allowed: INLINE_ANSWERS, what: "inline" }, maybeSplit);
        } else {
          const bad = [null, [1], { textDocument: { uri: "file:///never-opened" }, position: { line: 0, character: 0 } }, { textDocument: {}, position: { line: 0, character: 0 } }, { textDocument: { uri: "file:///x" }, position: { line: -1, character: 0 } }];
          t.request(id, "textDocument/inlineCompletion", bad[Math.floor(r() * bad.length)], { allowed: [InvalidParams], what: "inline, bad params" }, maybeSplit);
        }
      } else if (k < 0.52) {
        const uri = `file:///doc${Math.floor(r() * 20)}.py`;
        if (!docs.includes(uri)) {
          docs.push(uri);
          t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri, languageId: "python", version: 1, text: promptOf(r, 60) } } }));
        } else {
          t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didChange", params: { textDocument: { uri, version: 2 + i }, contentChanges: [{ text: promptOf(r, 60) }] } }));
        }
      } else if (k < 0.57) {
        const target = genIds.length ? genIds[Math.floor(r() * genIds.length)] : "none";
        t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: target } }));
      } else if (k < 0.62) {
        const bad = ['{"jsonrpc":"2.0","method":"$/cancelRequest","params":null}', '{"jsonrpc":"2.0","method":"textDocument/didOpen","params":null}', '{"jsonrpc":"2.0","method":"textDocument/didChange","params":[1]}', '{"jsonrpc":"2.0","method":7}'];
        t.writeFrame(bad[Math.floor(r() * bad.length)]);
      } else if (k < 0.7) {
        const ids = ["null", "true", "false", "{}", "[1]", '{"a":1}'];
        t.nullAnswersExpected++;
        t.writeFrame(`{"jsonrpc":"2.0","id":${ids[Math.floor(r() * ids.length)]},"method":"edit/status"}`, maybeSplit);
      } else if (k < 0.76) {
        t.nullAnswersExpected++;
        const bad = ['{"jsonrpc":"2.0","id":1,"method":', "not json at all", "[1,2", '{"a":}', "\u00ff\u00fe", ""];
        t.writeFrame(bad[Math.floor(r() * bad.length)]);
      } else if (k < 0.82) {
        t.raw(BAD_FRAMES[Math.floor(r() * BAD_FRAMES.length)]);
      } else if (k < 0.88) {
        // Whatever the params (null and arrays included), an unknown method is -32601 (issue 22).
        const params = [{}, null, [1], undefined][Math.floor(r() * 4)];
        t.request(id, ["foo/bar", "workspace/symbol", "edit/unknown"][Math.floor(r() * 3)], params, { allowed: [MethodNotFound], what: "unknown method" }, maybeSplit);
      } else if (k < 0.91) {
        t.request(id, "initialize", { processId: null, rootUri: null, capabilities: {} }, { allowed: [InvalidRequest], what: "second initialize" }, maybeSplit);
      } else if (k < 0.94) {
        // Arrays and other non-batch non-objects are invalid requests.
        t.nullAnswersExpected++;
        t.writeFrame(['[{"jsonrpc":"2.0","id":1,"method":"edit/status"}]', "42", '"str"', "null", "true"][Math.floor(r() * 5)]);
      } else {
        t.request(id, "edit/status", [1], { allowed: [InvalidParams], what: "status, array params" }, maybeSplit);
      }
    }
    return await finish("fuzz", d, t, rssStart);
  } finally {
    d.kill();
  }
}

async function finish(suite: string, d: RawDaemon, t: Tracker, rssStart: number, extra: Record<string, number | string> = {}): Promise<Figures> {
  await waitFor(d, () => t.unanswered() === 0, 120_000);
  const crashed = d.child.exitCode !== null || d.child.signalCode !== null;
  let hang = 0;
  if (!crashed) {
    d.request("final-status", "edit/status");
    if (!(await waitFor(d, () => d.answers.some((a) => a.id === "final-status"), 30_000))) hang = 1;
  }
  const rssEnd = t.sampleRss();
  const { lost, wrong } = t.settle();
  return {
    suite,
    messages: t.messages,
    crashes: crashed ? 1 : 0,
    hangs: hang,
    lost,
    wrongCodes: wrong,
    wrongExamples: t.wrong.slice(0, 8),
    rssStartMB: round(rssStart),
    rssEndMB: round(rssEnd),
    rssPeakMB: round(t.rssPeak),
    extra,
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Cancel storm: `n` edit/generate requests with a progress token, each cancelled at once or after a
 * random short delay, then `inline` inline requests on one document that supersede each other. Every
 * request is answered (a result, or -32800 for a cancel), and every progress token that began ends.
 */
export async function cancelStorm(n: number, inline: number, seed = 2): Promise<Figures> {
  const d = await startReady();
  const t = new Tracker(d);
  const r = rng(seed);
  try {
    let rssStart = t.sampleRss();
    for (let i = 0; i < n; i++) {
      // RSS "start" after a warm-up of the first 20 % of the pairs.
      if (i === Math.floor(n / 5)) rssStart = t.sampleRss();
      const id = `c${i}`;
      t.request(id, "edit/generate", { prompt: promptOf(r, 20), stop: "full", workDoneToken: `tok-${id}` }, { allowed: [OK, RequestCancelled], what: "cancelled generate" });
      if (r() < 0.5) await sleep(Math.floor(r() * 5));
      t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id } }));
      if (i % 50 === 0) t.sampleRss();
      if (process.env.EDIT_STRESS_VERBOSE && i % 1000 === 0) process.stderr.write(`cancel storm ${i}: RSS ${round(t.sampleRss())} MB\n`);
    }
    const uri = "file:///storm.py";
    t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri, languageId: "python", version: 1, text: "1+2" } } }));
    for (let i = 0; i < inline; i++) {
      t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didChange", params: { textDocument: { uri, version: 2 + i }, contentChanges: [{ text: "1+2" + "3".repeat(i % 17) }] } }));
      t.request(`s${i}`, "textDocument/inlineCompletion", { textDocument: { uri }, position: { line: 0, character: 3 + (i % 17) }, context: { triggerKind: 2 } }, { allowed: INLINE_ANSWERS, what: "superseded inline" });
    }
    const f = await finish("cancel-storm", d, t, rssStart);
    // A request's last progress notification is written just before its answer; let it arrive.
    await sleep(200);
    const progress = new Map<string, string[]>();
    for (const m of d.notifications) {
      if (m.method !== "$/progress") continue;
      const p = m.params as { token: string; value: { kind: string } };
      progress.set(p.token, [...(progress.get(p.token) ?? []), p.value.kind]);
    }
    let unended = 0;
    for (const [token, kinds] of progress) {
      if (kinds[0] === "begin" && kinds[kinds.length - 1] !== "end") {
        unended++;
        f.wrongExamples.push(`progress ${token}: ${kinds.join(" ")}`);
      }
    }
    const cancelled = [...t.expected.keys()].filter((id) => String(id).startsWith("c") && d.answers.find((a) => a.id === id)?.error?.code === RequestCancelled).length;
    f.extra = { cancelled, finished: n - cancelled, progressTokens: progress.size, progressNotEnded: unended };
    if (unended) {
      f.wrongCodes += unended;
      f.wrongExamples.push(`${unended} progress tokens began and never ended`);
    }
    return f;
  } finally {
    d.kill();
  }
}

/**
 * Soak: `n` mixed requests (status, generate with prompt lengths from 0 to `maxPrompt`, inline on a
 * few documents edited along the way), sent in waves of 50 so the queue stays short. RSS is sampled
 * after every wave. A single sample moves by several % with the garbage collectors' phase, so start
 * is the median of the samples from 20 % to 30 % of the run (after warm-up) and end the median of the
 * last 10 %; the figure to hold is end <= 1.10 x start. The last sample and the peak are reported too.
 */
export async function soak(n: number, maxPrompt = 120, seed = 3): Promise<Figures> {
  const d = await startReady();
  const t = new Tracker(d);
  const r = rng(seed);
  const early: number[] = [];
  const late: number[] = [];
  try {
    for (let i = 0; i < 5; i++) t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri: `file:///soak${i}.py`, languageId: "python", version: 1, text: promptOf(r, 60) } } }));
    for (let i = 0; i < n; i++) {
      if (i % 50 === 0) {
        await waitFor(d, () => t.unanswered() === 0, 120_000);
        const rss = t.sampleRss();
        if (i >= n * 0.2 && i < n * 0.3) early.push(rss);
        if (i >= n * 0.9) late.push(rss);
        if (process.env.EDIT_STRESS_VERBOSE && i % 1000 === 0) process.stderr.write(`soak ${i}: RSS ${round(t.sampleRss())} MB\n`);
      }
      const k = r();
      const id = `s${i}`;
      if (k < 0.3) t.request(id, "edit/status", undefined, { allowed: [OK], what: "status" });
      else if (k < 0.7) t.request(id, "edit/generate", { prompt: promptOf(r, maxPrompt) }, { allowed: GEN_ANSWERS, what: "generate" });
      else {
        const uri = `file:///soak${Math.floor(r() * 5)}.py`;
        t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didChange", params: { textDocument: { uri, version: 2 + i }, contentChanges: [{ text: promptOf(r, 60) }] } }));
        t.request(id, "textDocument/inlineCompletion", { textDocument: { uri }, position: { line: 0, character: 0 }, context: { triggerKind: 2 } }, { allowed: INLINE_ANSWERS, what: "inline" });
      }
    }
    const f = await finish("soak", d, t, median(early));
    const last = f.rssEndMB;
    f.rssEndMB = round(median(late.length ? late : [last]));
    f.extra = { rssLastMB: last, rssGrowthPct: f.rssStartMB ? round((100 * (f.rssEndMB - f.rssStartMB)) / f.rssStartMB) : 0 };
    return f;
  } finally {
    d.kill();
  }
}

/**
 * Latency while generations queue up: `storm` full-budget generates are kept in flight (topped up as
 * they finish) while `probes` edit/status round trips are timed; every fourth probe also cancels the
 * oldest unanswered generate (the running one) and times its -32800; then shutdown is timed. Reported
 * as p50/p99 in ms (the full run checks them against 50 ms; no unit test asserts a time).
 */
export async function latency(storm: number, probes: number): Promise<Figures> {
  const d = await startReady();
  const t = new Tracker(d);
  const status: number[] = [];
  const cancel: number[] = [];
  try {
    const rssStart = t.sampleRss();
    const arrival = new Map<string | number, number>();
    let seen = 0;
    const stamp = () => {
      const now = performance.now();
      for (; seen < d.answers.length; seen++) {
        const a = d.answers[seen];
        if (a.id !== null && !arrival.has(a.id)) arrival.set(a.id, now);
      }
    };
    const timer = setInterval(stamp, 1);
    const waitId = async (id: string) => {
      await d.answer((a) => a.id === id);
      stamp();
      return arrival.get(id)!;
    };
    const storming: string[] = [];
    let next = 0;
    const topUp = () => {
      stamp();
      for (let k = storming.length - 1; k >= 0; k--) if (arrival.has(storming[k])) storming.splice(k, 1);
      while (storming.length < storm) {
        const id = `g${next++}`;
        storming.push(id);
        t.request(id, "edit/generate", { prompt: "7 3 12>33", stop: "full" }, { allowed: [OK, RequestCancelled], what: "storm generate" });
      }
    };
    topUp();
    for (let i = 0; i < probes; i++) {
      const id = `p${i}`;
      const t0 = performance.now();
      t.request(id, "edit/status", undefined, { allowed: [OK], what: "status during storm" });
      status.push((await waitId(id)) - t0);
      topUp();
      if (i % 4 === 0 && storming.length) {
        const target = storming[0];
        const c0 = performance.now();
        t.writeFrame(JSON.stringify({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: target } }));
        const at = await waitId(target);
        // A generate that finished before its cancel arrived is not a cancel latency.
        if (d.answers.find((a) => a.id === target)?.error?.code === RequestCancelled && at >= c0) cancel.push(at - c0);
      }
      await sleep(5);
    }
    const s0 = performance.now();
    t.request("shutdown", "shutdown", undefined, { allowed: [OK], what: "shutdown during storm" });
    const shutdownMs = (await waitId("shutdown")) - s0;
    clearInterval(timer);
    d.notify("exit");
    await waitFor(d, () => t.unanswered() === 0, 60_000);
    const f = await finishAfterExit("latency", d, t, rssStart);
    f.extra = {
      generates: next,
      statusP50ms: round(pct(status, 50)),
      statusP99ms: round(pct(status, 99)),
      cancels: cancel.length,
      cancelP50ms: round(pct(cancel, 50)),
      cancelP99ms: round(pct(cancel, 99)),
      shutdownMs: round(shutdownMs),
      exitCode: String(await d.exited),
    };
    return f;
  } finally {
    d.kill();
  }
}

async function finishAfterExit(suite: string, d: RawDaemon, t: Tracker, rssStart: number): Promise<Figures> {
  await d.exited;
  const { lost, wrong } = t.settle();
  return { suite, messages: t.messages, crashes: 0, hangs: 0, lost, wrongCodes: wrong, wrongExamples: t.wrong.slice(0, 8), rssStartMB: round(rssStart), rssEndMB: round(rssStart), rssPeakMB: round(t.rssPeak), extra: {} };
}

function median(xs: number[]): number {
  return pct(xs, 50);
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export function formatFigures(f: Figures): string {
  const extra = Object.entries(f.extra).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${f.suite}: messages ${f.messages}, crashes ${f.crashes}, hangs ${f.hangs}, lost ${f.lost}, wrong codes ${f.wrongCodes}, RSS start/end/peak ${f.rssStartMB}/${f.rssEndMB}/${f.rssPeakMB} MB${extra ? `; ${extra}` : ""}${f.wrongExamples.length ? `\n  e.g. ${f.wrongExamples.join("\n  e.g. ")}` : ""}`;
}

export { ParseError };
