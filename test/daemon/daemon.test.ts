/**
 * The real daemon (`edit-dllm serve --stdio`, the real engine on the committed micro bundle) driven
 * over its stdio by vscode-jsonrpc. Expected completions come from the engine loaded in this process
 * (the reference for what the daemon must relay), never from the daemon itself.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GenerateResult, GenerateProgress, StatusResult, DaemonSettings } from "../../protocol/lsp";
import type { Engine, GenerateRequest } from "../../server/src/engine-types";
import { loadEngine } from "../../server/src/engine";
import { initialize, kill, microBundle, shutdown, spawnDaemon, type DaemonProcess, type ProgressValue } from "./lsp-client";

const INLINE = "textDocument/inlineCompletion";
const RequestCancelled = -32800;
const InvalidParams = -32602;

interface InlineList {
  items: { insertText: string; range: { start: { line: number; character: number }; end: { line: number; character: number } } }[];
}

assert.ok(existsSync(join(microBundle, "bundle.json")), `the micro bundle is missing at ${microBundle}`);
const bundleJson = JSON.parse(readFileSync(join(microBundle, "bundle.json"), "utf8")) as {
  tasks: Record<string, { template: string }>;
  default_task: string;
  generation: { gen_length: number; block_length: number; steps: number };
};
const inlineTask = "code" in bundleJson.tasks ? "code" : bundleJson.default_task;
const gen = bundleJson.generation;

let reference: Engine;
/** What the engine itself answers for an inline completion with the given settings. */
async function expected(prefix: string, s: DaemonSettings = {}): Promise<string> {
  const req: GenerateRequest = { prompt: prefix, task: inlineTask };
  if (s.stopRule) req.stop = s.stopRule;
  if (s.stopParams) req.params = s.stopParams;
  if (s.genLength) req.genLength = s.genLength;
  if (s.blockLength) req.blockLength = s.blockLength;
  if (s.steps) req.steps = s.steps;
  return (await reference.generate(req)).text;
}

function openDoc(d: DaemonProcess, uri: string, text: string) {
  return d.rpc.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "python", version: 1, text } });
}

function inlineAt(uri: string, line: number, character: number) {
  return { textDocument: { uri }, position: { line, character }, context: { triggerKind: 2 } };
}

async function status(d: DaemonProcess): Promise<StatusResult> {
  return d.rpc.sendRequest<StatusResult>("edit/status");
}

/** Settings that make one generation run every forward of its budget (one token per step). */
const longRun: DaemonSettings = { stopRule: "full", genLength: gen.gen_length, blockLength: gen.block_length, steps: gen.gen_length };

before(async () => {
  reference = await loadEngine({ bundleDir: microBundle, provider: "cpu" });
});
after(async () => {
  await reference?.dispose();
});

describe("daemon over stdio", { timeout: 120_000 }, () => {
  let d: DaemonProcess;
  let init: Awaited<ReturnType<typeof initialize>>;
  before(async () => {
    // inlineMinConfidence 0: these tests compare with the engine's raw answer (the gate has its own tests).
    d = spawnDaemon({ configuration: () => ({ bundlePath: microBundle, executionProvider: "cpu", inlineMinConfidence: 0 }) });
    init = await initialize(d, { bundlePath: microBundle, executionProvider: "cpu", inlineMinConfidence: 0 });
  });
  after(() => kill(d));

  test("initialize advertises incremental sync and no inline completion before the model is loaded", () => {
    assert.deepEqual(init.capabilities.textDocumentSync, { openClose: true, change: 2 });
    assert.equal(init.capabilities.inlineCompletionProvider, undefined);
    assert.equal(init.serverInfo?.name, "edit-dllm");
  });

  test("inline completion is registered dynamically after the load, reported with workDoneProgress", async () => {
    const reg = await d.registered(INLINE);
    assert.deepEqual(reg.registerOptions, { documentSelector: null });
    const ready = await d.statusReached("ready");
    assert.equal(d.statuses[0]?.state, "loading");
    assert.equal(ready.bundle, reference.info.bundle);
    // The load's server-initiated progress: created, begun, ended.
    assert.equal(d.createdProgressTokens.length >= 1, true);
    const kinds = (d.progress.get(d.createdProgressTokens[0]!) ?? []).map((v) => v.kind);
    assert.deepEqual(kinds, ["begin", "end"]);
  });

  test("didOpen + inline completion returns the engine's completion at the cursor", async () => {
    await d.registered(INLINE);
    const text = "def add(a, b):\n    return ";
    await openDoc(d, "file:///inline.py", text);
    const want = await expected(text);
    const got = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///inline.py", 1, 11));
    if (want === "") assert.deepEqual(got, { items: [] });
    else assert.deepEqual(got, { items: [{ insertText: want, range: { start: { line: 1, character: 11 }, end: { line: 1, character: 11 } } }] });
  });

  test("incremental didChange edits the document the completion reads", async () => {
    await openDoc(d, "file:///incr.py", "x = 1\n");
    await d.rpc.sendNotification("textDocument/didChange", {
      textDocument: { uri: "file:///incr.py", version: 2 },
      contentChanges: [{ range: { start: { line: 0, character: 4 }, end: { line: 0, character: 5 } }, text: "foo(" }],
    });
    const want = await expected("x = foo(");
    const got = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///incr.py", 0, 8));
    assert.deepEqual(got.items.map((i) => i.insertText), want ? [want] : []);
  });

  test("a repeated request is a cache hit: no forward runs", async () => {
    await openDoc(d, "file:///cache.py", "for i in range(");
    const first = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///cache.py", 0, 15));
    const s1 = await status(d);
    const second = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///cache.py", 0, 15));
    const s2 = await status(d);
    assert.deepEqual(second, first);
    assert.equal(s2.counters!.cacheHits, s1.counters!.cacheHits + 1);
    assert.equal(s2.counters!.generations, s1.counters!.generations);
    assert.equal(s2.counters!.forwards, s1.counters!.forwards);
  });

  test("typing along a cached completion serves its rest without a forward", async () => {
    // A document whose completion has at least two characters (decided by the reference engine).
    const candidates = ["import ", "def f(x):\n    ", "while ", "print(", "class A", "a = [", "if x"];
    let doc: string | undefined;
    let want = "";
    for (const c of candidates) {
      want = await expected(c);
      if (want.length >= 2 && !want.includes("\n")) {
        doc = c;
        break;
      }
    }
    assert.ok(doc !== undefined, "no candidate document has a single-line completion of 2+ characters on this bundle");
    const lines = doc.split("\n");
    const line = lines.length - 1;
    const col = lines[line]!.length;
    await openDoc(d, "file:///typed.py", doc);
    const first = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///typed.py", line, col));
    assert.equal(first.items[0]?.insertText, want);
    const before = await status(d);
    // The user types the completion's first character.
    await d.rpc.sendNotification("textDocument/didChange", {
      textDocument: { uri: "file:///typed.py", version: 2 },
      contentChanges: [{ range: { start: { line, character: col }, end: { line, character: col } }, text: want[0] }],
    });
    const along = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///typed.py", line, col + 1));
    const afterS = await status(d);
    assert.deepEqual(along.items.map((i) => i.insertText), [want.slice(1)]);
    assert.deepEqual(along.items[0]!.range.start, { line, character: col + 1 });
    assert.equal(afterS.counters!.typedAlongHits, before.counters!.typedAlongHits + 1);
    assert.equal(afterS.counters!.forwards, before.counters!.forwards);
  });

  test("edit/generate with a workDoneToken streams one report per step of the final trace", async () => {
    const token = "gen-1";
    const prompt = "12+34";
    const res = await d.rpc.sendRequest<GenerateResult>("edit/generate", { prompt, workDoneToken: token });
    const ref = await reference.generate({ prompt });
    assert.equal(res.text, ref.text);
    assert.deepEqual(res.trace.outputIds, ref.trace.outputIds);
    const values = d.progress.get(token) ?? [];
    assert.equal(values[0]?.kind, "begin");
    assert.equal(values.at(-1)?.kind, "end");
    const reports = values.filter((v): v is ProgressValue & GenerateProgress => v.kind === "report");
    const streamed = reports.map((r) => [r.event.block, r.event.step.step, r.event.step.committed]);
    const traced = res.trace.blocks.flatMap((b) => b.steps.map((s) => [b.index, s.step, s.committed]));
    assert.deepEqual(streamed, traced);
    assert.equal(reports.length, res.trace.totals.forwards);
    for (const r of reports) assert.deepEqual(r.event.step, res.trace.blocks.find((b) => b.index === r.event.block)!.steps[r.event.step.step - 1]);
  });

  test("malformed params get InvalidParams naming the field, and the daemon keeps answering", async () => {
    await assert.rejects(d.rpc.sendRequest("edit/generate", { prompt: 42 }), (e: { code: number; message: string }) => {
      assert.equal(e.code, InvalidParams);
      assert.match(e.message, /'prompt'/);
      return true;
    });
    await assert.rejects(d.rpc.sendRequest("edit/generate", { prompt: "1+1", params: { tau: [1] } }), (e: { code: number; message: string }) => {
      assert.equal(e.code, InvalidParams);
      assert.match(e.message, /'params\.tau'/);
      return true;
    });
    await assert.rejects(d.rpc.sendRequest(INLINE, { textDocument: { uri: "file:///inline.py" }, position: { line: -1 } }), (e: { code: number; message: string }) => {
      assert.equal(e.code, InvalidParams);
      assert.match(e.message, /'position\.line'/);
      return true;
    });
    await assert.rejects(d.rpc.sendRequest(INLINE, inlineAt("file:///never-opened.py", 0, 0)), (e: { code: number; message: string }) => {
      assert.equal(e.code, InvalidParams);
      assert.match(e.message, /'textDocument\.uri'/);
      return true;
    });
    // The engine's typed error for an unknown rule becomes InvalidParams with its message.
    await assert.rejects(d.rpc.sendRequest("edit/generate", { prompt: "1+1", stop: "no-such-rule" }), (e: { code: number; message: string }) => {
      assert.equal(e.code, InvalidParams);
      assert.match(e.message, /no-such-rule/);
      return true;
    });
    const s = await status(d);
    assert.equal(s.state, "ready");
  });

  test("cancelling mid-generation answers RequestCancelled and the next request works", async () => {
    await d.rpc.sendNotification("workspace/didChangeConfiguration", { settings: { edit: { bundlePath: microBundle, executionProvider: "cpu", ...longRun } } });
    const token = "gen-cancel";
    const run = d.cancellable<GenerateResult>("edit/generate", { prompt: "98-76", workDoneToken: token });
    // Cancel as soon as the first step is reported.
    await new Promise<void>((resolve) => {
      const poll = () => ((d.progress.get(token) ?? []).some((v) => v.kind === "report") ? resolve() : setTimeout(poll, 1));
      poll();
    });
    run.cancel();
    await assert.rejects(run.result, (e: { code: number }) => e.code === RequestCancelled);
    const reports = (d.progress.get(token) ?? []).filter((v) => v.kind === "report").length;
    assert.ok(reports < gen.gen_length, `the generation ran all ${reports} steps although it was cancelled`);
    const next = await d.rpc.sendRequest<GenerateResult>("edit/generate", { prompt: "98-76" });
    const ref = await reference.generate({ prompt: "98-76", stop: "full", genLength: gen.gen_length, blockLength: gen.block_length, steps: gen.gen_length });
    assert.equal(next.text, ref.text);
    assert.equal(next.trace.totals.forwards, ref.trace.totals.forwards);
    assert.equal((await status(d)).counters!.cancelled >= 1, true);
  });

  test("a newer inline request for the same document supersedes the stale one", async () => {
    // Settings from the previous test still make each generation run its full budget.
    await openDoc(d, "file:///super.py", "total = 0\nfor x in ");
    const before = await status(d);
    // A long edit/generate occupies the queue; then the stale and the fresh inline request.
    const busy = d.rpc.sendRequest<GenerateResult>("edit/generate", { prompt: "55+44" });
    const stale = d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///super.py", 0, 9));
    const fresh = d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///super.py", 1, 9));
    assert.deepEqual(await stale, { items: [] });
    const want = await expected("total = 0\nfor x in ", longRun);
    assert.deepEqual((await fresh).items.map((i) => i.insertText), want ? [want] : []);
    await busy;
    const afterS = await status(d);
    assert.equal(afterS.counters!.superseded, before.counters!.superseded + 1);
    // busy + fresh ran; the stale one never finished.
    assert.equal(afterS.counters!.generations, before.counters!.generations + 2);
  });

  test("settings apply without restart: steps and rule of the next generation follow them", async () => {
    // One forward per block: the smallest budget the block geometry allows.
    const blocks = gen.gen_length / gen.block_length;
    await d.rpc.sendNotification("workspace/didChangeConfiguration", {
      settings: { edit: { bundlePath: microBundle, executionProvider: "cpu", stopRule: "full", steps: blocks } },
    });
    const res = await d.rpc.sendRequest<GenerateResult>("edit/generate", { prompt: "7+8" });
    assert.equal(res.trace.rule, "full");
    assert.equal(res.trace.steps, blocks);
    assert.equal(res.trace.totals.budget, blocks);
    assert.equal((await status(d)).state, "ready");
  });

  test("shutdown + exit ends the process with code 0", async () => {
    assert.equal(await shutdown(d), 0);
  });
});

describe("daemon lifecycle edge cases", { timeout: 60_000 }, () => {
  test("exit without shutdown ends the process with code 1", async () => {
    const d = spawnDaemon();
    try {
      await initialize(d, { bundlePath: microBundle, executionProvider: "cpu" });
      await d.statusReached("ready");
      await d.rpc.sendNotification("exit");
      assert.equal(await d.exited, 1);
    } finally {
      kill(d);
    }
  });

  test("a client without dynamic registration gets the capability statically; early requests wait for the load", async () => {
    const d = spawnDaemon();
    try {
      const init = await initialize(d, { bundlePath: microBundle, executionProvider: "cpu" }, false);
      assert.deepEqual(init.capabilities.inlineCompletionProvider, {});
      // Sent right after `initialized`, before the model can have loaded.
      await openDoc(d, "file:///early.py", "x = ");
      const got = await d.rpc.sendRequest<InlineList>(INLINE, inlineAt("file:///early.py", 0, 4));
      const want = await expected("x = ");
      assert.deepEqual(got.items.map((i) => i.insertText), want ? [want] : []);
      assert.deepEqual(d.registrations.filter((r) => r.method === INLINE), []);
      assert.equal(await shutdown(d), 0);
    } finally {
      kill(d);
    }
  });

  test("changing bundlePath reloads the engine without a restart (failed -> ready)", async () => {
    const d = spawnDaemon();
    try {
      await initialize(d, { bundlePath: join(microBundle, "missing"), executionProvider: "cpu" });
      await d.statusReached("failed");
      await d.rpc.sendNotification("workspace/didChangeConfiguration", { settings: { edit: { bundlePath: microBundle, executionProvider: "cpu" } } });
      const ready = await d.statusReached("ready");
      assert.equal(ready.bundle, reference.info.bundle);
      await d.registered(INLINE);
      const res = await d.rpc.sendRequest<GenerateResult>("edit/generate", { prompt: "3+4" });
      assert.equal(res.text, (await reference.generate({ prompt: "3+4" })).text);
      assert.equal(await shutdown(d), 0);
    } finally {
      kill(d);
    }
  });

  test("a bad bundle path reports 'failed' with the engine's message; requests get RequestFailed", async () => {
    const d = spawnDaemon();
    try {
      await initialize(d, { bundlePath: join(microBundle, "no-such-dir") });
      const failed = await d.statusReached("failed");
      assert.match(failed.message ?? "", /no-such-dir/);
      assert.deepEqual(d.registrations.filter((r) => r.method === INLINE), []);
      await assert.rejects(d.rpc.sendRequest("edit/generate", { prompt: "1+1" }), (e: { code: number; message: string }) => {
        assert.equal(e.code, -32803);
        assert.match(e.message, /no-such-dir/);
        return true;
      });
      assert.equal(await shutdown(d), 0, d.stderr());
    } finally {
      kill(d);
    }
  });
});
