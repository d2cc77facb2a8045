/**
 * The daemon's transport under hostile input: the frame parser (framing.ts) and the JSON-RPC/LSP gate
 * (gate.ts) as units, then the real daemon over raw stdio bytes: the reported wedge (a negative
 * Content-Length, then a request written in two pieces), absurd lengths, and a table of method x fault
 * with the error code each specification names (JSON-RPC 2.0 section 5.1, LSP "Base Protocol" and
 * "Lifecycle Messages").
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameParser, parseHeaderBlock } from "../../server/src/daemon/framing";
import { MessageGate } from "../../server/src/daemon/gate";
import { createWire } from "../../server/src/daemon/wire";
import { PassThrough } from "node:stream";
import { microBundle } from "./lsp-client";
import { frame, rawInitialize, spawnRaw, type RawAnswer, type RawDaemon } from "./raw-client";

const ParseError = -32700;
const InvalidRequest = -32600;
const InvalidParams = -32602;
const ServerNotInitialized = -32002;
const RequestCancelled = -32800;

function bodies(events: ReturnType<FrameParser["push"]>): string[] {
  return events.map((e) => (e.kind === "frame" ? e.body.toString("utf8") : e.kind === "bad-header" ? `BAD: ${e.reason}` : `SKIPPED: ${e.length}`));
}

describe("frame parser", () => {
  const status = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "edit/status" });

  test("two frames in one chunk, and one frame fed a byte at a time", () => {
    const p = new FrameParser({ maxMessageBytes: 1000 });
    assert.deepEqual(bodies(p.push(Buffer.concat([frame("[1]"), frame("{}")]))), ["[1]", "{}"]);
    const bytes = frame(status);
    const got: string[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...bodies(p.push(bytes.subarray(i, i + 1))));
    assert.deepEqual(got, [status]);
    assert.equal(p.pendingBytes, 0);
  });

  test("the reported wedge: a negative length, a stray blank line, then a request in two pieces", () => {
    const p = new FrameParser({ maxMessageBytes: 1000 });
    const f = frame(status);
    const got = [
      ...bodies(p.push(Buffer.from('Content-Length: -300\r\n\r\n{"x":1}'))),
      ...bodies(p.push(Buffer.from("\r\n\r\n"))),
      ...bodies(p.push(f.subarray(0, 10))),
      ...bodies(p.push(f.subarray(10))),
    ];
    assert.equal(got.length, 2);
    assert.match(got[0], /^BAD: Content-Length "-300" is not a non-negative decimal integer/);
    assert.equal(got[1], status);
  });

  test("absurd and malformed lengths are refused and the next frame still arrives", () => {
    for (const header of ["Content-Length: 1e20", "Content-Length: 100000000000000000000", "Content-Length: 1001", "Content-Length: 12abc", "Content-Length:", "Content-Type: x", "Content-Length: 2\r\nContent-Length: 2", "garbage"]) {
      const p = new FrameParser({ maxMessageBytes: 1000 });
      const got = bodies(p.push(Buffer.concat([Buffer.from(`${header}\r\n\r\n{"a":1}`), frame(status)])));
      assert.equal(got.length, 2, header);
      assert.match(got[0], /^BAD: /, header);
      assert.equal(got[1], status, header);
    }
  });

  test("a header block without its blank line is refused once it exceeds the header limit", () => {
    const p = new FrameParser({ maxMessageBytes: 1000, maxHeaderBytes: 64 });
    assert.deepEqual(bodies(p.push(Buffer.from("x".repeat(50)))), []);
    const got = bodies(p.push(Buffer.concat([Buffer.from("y".repeat(50)), frame(status)])));
    assert.equal(got.length, 2);
    assert.match(got[0], /longer than 64 bytes/);
    assert.equal(got[1], status);
  });

  test("header values: the length, a utf-8 Content-Type, case-insensitive names", () => {
    assert.equal(parseHeaderBlock("Content-Length: 12", 100), 12);
    assert.equal(parseHeaderBlock("content-length: 0\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8", 100), 0);
    assert.match(String(parseHeaderBlock("Content-Length: 5\r\nContent-Type: application/json; charset=latin1", 100)), /not utf-8/);
    assert.match(String(parseHeaderBlock("Content-Length: 101", 100)), /exceeds the maximum message size of 100 bytes/);
  });
});

describe("message gate", () => {
  test("envelope checks: non-objects, batches, bad ids, no method", () => {
    const g = new MessageGate();
    const code = (m: unknown) => {
      const v = g.check(m);
      return v.kind === "reply" ? v.error.code : v.kind;
    };
    assert.equal(code(42), InvalidRequest);
    assert.equal(code([{ jsonrpc: "2.0", id: 1, method: "initialize" }]), InvalidRequest);
    for (const id of [null, true, {}, [1]]) assert.equal(code({ jsonrpc: "2.0", id, method: "initialize", params: {} }), InvalidRequest, JSON.stringify(id));
    assert.equal(code({ jsonrpc: "2.0", id: 1 }), InvalidRequest);
    assert.equal(code({ jsonrpc: "2.0", id: 1, method: 5 }), InvalidRequest);
    assert.equal(code({ jsonrpc: "2.0", id: 1, result: null }), "pass");
  });

  test("lifecycle: -32002 before initialize, one initialize, nothing but exit after shutdown", () => {
    const g = new MessageGate();
    const req = (id: number, method: string, params?: unknown) => g.check({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) });
    const c = (v: ReturnType<MessageGate["check"]>) => (v.kind === "reply" ? v.error.code : v.kind);
    assert.equal(c(req(1, "edit/status")), ServerNotInitialized);
    assert.equal(c(g.check({ jsonrpc: "2.0", method: "textDocument/didOpen", params: {} })), "drop");
    assert.equal(c(req(2, "initialize", {})), "pass");
    assert.equal(c(req(3, "initialize", {})), InvalidRequest);
    assert.equal(c(req(4, "edit/status")), "pass");
    assert.equal(c(req(4, "edit/status")), InvalidRequest, "a duplicate id in flight");
    g.answered(4);
    assert.equal(c(req(4, "edit/status", null)), "pass", "an answered id may be used again; null params where none are taken");
    assert.equal(c(req(5, "edit/generate", null)), InvalidParams);
    assert.equal(c(req(6, "edit/generate", [1])), InvalidParams);
    // JSON-RPC 2.0 §5.1: a method that does not exist is -32601 whatever its params (issue 22).
    for (const params of [undefined, null, [1], {}, "x"]) assert.equal(c(req(60, "foo/bar", params)), -32601, `unknown method, params ${JSON.stringify(params)}`);
    assert.equal(c(g.check({ jsonrpc: "2.0", method: "$/cancelRequest", params: null })), "drop");
    assert.equal(c(g.check({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 6 } })), "drop", "not in flight");
    assert.equal(c(g.check({ jsonrpc: "2.0", method: "$/cancelRequest", params: { id: 4 } })), "pass", "in flight");
    assert.equal(c(req(7, "shutdown")), "pass");
    assert.equal(c(req(8, "edit/status")), InvalidRequest);
    assert.equal(c(req(9, "shutdown")), InvalidRequest);
    assert.equal(c(g.check({ jsonrpc: "2.0", method: "exit" })), "pass");
  });
});

describe("session end hooks (issue 22)", () => {
  test("exit goes to onExit, not to the connection; initialize's processId goes to the daemon's own watcher", async () => {
    const input = new PassThrough();
    const exits: number[] = [];
    const pids: number[] = [];
    const wire = createWire({ input, output: new PassThrough(), log: () => undefined, onExit: () => exits.push(1), onClientProcessId: (pid) => pids.push(pid) });
    const seen: { method?: string; params?: { processId?: unknown } }[] = [];
    wire.reader.listen((m) => seen.push(m as (typeof seen)[number]));
    input.write(frame(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { processId: 4242, capabilities: {} } })));
    input.write(frame(JSON.stringify({ jsonrpc: "2.0", method: "exit" })));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(pids, [4242]);
    assert.equal(seen.length, 1, "exit never reaches vscode-languageserver (its handler calls process.exit at once)");
    assert.equal(seen[0]!.method, "initialize");
    assert.equal(seen[0]!.params!.processId, null, "vscode-languageserver's own watchdog gets no pid");
    assert.deepEqual(exits, [1]);
    assert.equal(wire.gate.shutDown, false);
  });
});

describe("daemon over raw stdio", { timeout: 120_000 }, () => {
  const settings = { bundlePath: microBundle, executionProvider: "cpu" };
  let d: RawDaemon;
  let nextId = 100;
  const ask = async (method: string, params?: unknown): Promise<RawAnswer> => {
    const id = nextId++;
    d.request(id, method, params);
    return d.answer((a) => a.id === id);
  };
  before(async () => {
    d = spawnRaw({ configuration: settings });
    d.request(1, "edit/generate", { prompt: "1+2" });
    const early = await d.answer((a) => a.id === 1);
    assert.equal(early.error?.code, ServerNotInitialized);
    await rawInitialize(d, settings);
    // Wait for the model: after that the daemon sends the client no more requests, so the test's
    // hostile bytes are never interleaved with its answers to the daemon.
    for (;;) {
      const s = await ask("edit/status");
      if ((s.result as { state: string }).state === "ready") break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(() => d.kill());

  test("the reported wedge: the daemon answers the request after a negative Content-Length", async () => {
    d.write('Content-Length: -300\r\n\r\n{"x":1}');
    d.write("\r\n\r\n");
    const f = frame(JSON.stringify({ jsonrpc: "2.0", id: "after-wedge", method: "edit/status" }));
    d.write(f.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    d.write(f.subarray(10));
    const a = await d.answer((x) => x.id === "after-wedge");
    assert.equal((a.result as { state: string }).state, "ready");
    assert.match(d.stderr(), /refused a message header: Content-Length "-300"/);
  });

  test("an absurd Content-Length is refused with a log line and does not block the reader", async () => {
    d.write('Content-Length: 100000000000000000000\r\n\r\n{"x":1}');
    d.write("Content-Length: 1e20\r\n\r\n");
    const a = await ask("edit/status");
    assert.ok(a.result);
    assert.match(d.stderr(), /exceeds the maximum message size/);
    assert.match(d.stderr(), /Content-Length "1e20" is not a non-negative decimal integer/);
  });

  test("unparseable JSON gets -32700 with id null; the content is not echoed", async () => {
    const before = d.answers.length;
    d.send('{"jsonrpc":"2.0","id":5,"method":"edit/status", SECRET');
    await d.answerCount(before + 1);
    const a = d.answers[before];
    assert.equal(a.id, null);
    assert.equal(a.error?.code, ParseError);
    assert.doesNotMatch(a.error!.message + d.stderr(), /SECRET/);
  });

  // method x fault -> the code the specifications name.
  const generate = "edit/generate";
  const inline = "textDocument/inlineCompletion";
  const table: { name: string; method: string; params?: unknown; id?: unknown; code: number }[] = [
    { name: "generate, array params", method: generate, params: [{ prompt: "1" }], code: InvalidParams },
    { name: "generate, null params", method: generate, params: null, code: InvalidParams },
    { name: "generate, string params", method: generate, params: "1+2", code: InvalidParams },
    { name: "generate, no prompt", method: generate, params: {}, code: InvalidParams },
    { name: "generate, prompt a number", method: generate, params: { prompt: 3 }, code: InvalidParams },
    { name: "generate, stop a number", method: generate, params: { prompt: "1", stop: 3 }, code: InvalidParams },
    { name: "generate, unknown stop rule", method: generate, params: { prompt: "1", stop: "nope" }, code: InvalidParams },
    { name: "generate, stop 'constructor'", method: generate, params: { prompt: "1", stop: "constructor" }, code: InvalidParams },
    { name: "generate, params not an object", method: generate, params: { prompt: "1", params: [1] }, code: InvalidParams },
    { name: "generate, param value an object", method: generate, params: { prompt: "1", params: { tau: {} } }, code: InvalidParams },
    ...["constructor", "__proto__", "toString", "hasOwnProperty", "nope"].map((task) => ({ name: `generate, task '${task}'`, method: generate, params: { prompt: "1", task }, code: InvalidParams })),
    { name: "inline, null params", method: inline, params: null, code: InvalidParams },
    { name: "inline, array params", method: inline, params: [1], code: InvalidParams },
    { name: "inline, no textDocument", method: inline, params: { position: { line: 0, character: 0 } }, code: InvalidParams },
    { name: "inline, negative line", method: inline, params: { textDocument: { uri: "file:///x" }, position: { line: -1, character: 0 } }, code: InvalidParams },
    { name: "inline, document never opened", method: inline, params: { textDocument: { uri: "file:///never" }, position: { line: 0, character: 0 } }, code: InvalidParams },
    { name: "status, array params", method: "edit/status", params: [1], code: InvalidParams },
    ...[undefined, null, [1], { a: 1 }].map((params) => ({ name: `unknown method, params ${JSON.stringify(params)}`, method: "foo/bar", ...(params !== undefined ? { params } : {}), code: -32601 })),
    { name: "second initialize", method: "initialize", params: { processId: null, rootUri: null, capabilities: {} }, code: InvalidRequest },
    ...[null, true, { a: 1 }, [1], 1.5e400].map((id) => ({ name: `status, id ${JSON.stringify(id)}`, method: "edit/status", id, code: InvalidRequest })),
  ];
  test("method x fault: each answer carries the specified code, and no TypeError reaches the client", async () => {
    const wrong: string[] = [];
    for (const row of table) {
      const before = d.answers.length;
      let a: RawAnswer;
      if (row.id !== undefined) {
        // Ids the daemon cannot echo are answered with id null.
        d.send(`{"jsonrpc":"2.0","id":${row.id === 1.5e400 ? "1.5e400" : JSON.stringify(row.id)},"method":"${row.method}"}`);
        await d.answerCount(before + 1);
        a = d.answers[before];
        if (row.id !== 1.5e400) assert.equal(a.id, null, row.name);
      } else {
        a = await ask(row.method, row.params);
      }
      if (a.error?.code !== row.code) wrong.push(`${row.name}: got ${JSON.stringify(a.error ?? a.result).slice(0, 160)}`);
      if (a.error && /TypeError/.test(a.error.message)) wrong.push(`${row.name}: a TypeError reached the client: ${a.error.message}`);
    }
    assert.deepEqual(wrong, []);
  });

  test("two in-flight requests with one id: one runs, the other is refused explicitly", async () => {
    const id = "dup";
    d.request(id, generate, { prompt: "7 3 12>33" });
    d.request(id, generate, { prompt: "7 3 12>33" });
    await d.answer((a) => a.id === id && a.result !== undefined);
    await d.answer((a) => a.id === id && a.error !== undefined);
    const mine = d.answers.filter((a) => a.id === id);
    assert.equal(mine.length, 2);
    assert.equal(mine.filter((a) => a.error?.code === InvalidRequest).length, 1);
    assert.equal(mine.filter((a) => a.result !== undefined).length, 1);
  });

  test("cancel with bad params is dropped; the daemon keeps answering", async () => {
    d.notify("$/cancelRequest", null);
    d.notify("$/cancelRequest", { id: { x: 1 } });
    d.send('{"jsonrpc":"2.0","method":"textDocument/didOpen","params":null}');
    const a = await ask("edit/status");
    assert.ok(a.result);
    const g = "cancel-me";
    d.request(g, generate, { prompt: "7 3 12>33", stop: "full" });
    d.notify("$/cancelRequest", { id: g });
    const c = await d.answer((x) => x.id === g);
    // Either it finished before the cancel arrived or it was cancelled; never lost.
    assert.ok(c.result !== undefined || c.error?.code === RequestCancelled, JSON.stringify(c));
  });

  test("after shutdown: requests get -32600, exit ends the process with code 0", async () => {
    const s = await ask("shutdown");
    assert.equal(s.result, null);
    const late = await ask(generate, { prompt: "1" });
    assert.equal(late.error?.code, InvalidRequest);
    assert.match(late.error!.message, /after 'shutdown'/);
    const again = await ask("shutdown");
    assert.equal(again.error?.code, InvalidRequest);
    d.notify("exit");
    assert.equal(await d.exited, 0);
  });
});

describe("configured maximum message size", { timeout: 60_000 }, () => {
  test("serve --max-message-mb refuses a larger message with a log line and answers the next one", async () => {
    const d = spawnRaw({ args: ["--max-message-mb", "0.001"] });
    try {
      // 0.001 MB = 1,048 bytes: a 2,000-byte body is refused before it is read.
      d.send({ jsonrpc: "2.0", id: "big", method: "edit/status", params: { pad: "x".repeat(2000) } });
      d.request("small", "edit/status");
      const a = await d.answer((x) => x.id === "small");
      assert.equal(a.error?.code, ServerNotInitialized);
      assert.equal(d.answers.some((x) => x.id === "big"), false);
      assert.match(d.stderr(), /exceeds the maximum message size of 1048 bytes/);
    } finally {
      d.kill();
    }
  });
});
