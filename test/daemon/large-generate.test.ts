/**
 * A too-large edit/generate is answered from its first bytes and skipped unread (issue 22): the JSON
 * head reader (json-head.ts), the frame parser's screen (framing.ts) and the wire (wire.ts), each on
 * hand-made bytes; the daemon's own figures (time, RSS) are in the stress suite (huge-prompt.ts).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { FrameParser, type LargeBodyScreen } from "../../server/src/daemon/framing";
import { jsonHead } from "../../server/src/daemon/json-head";
import { createWire } from "../../server/src/daemon/wire";
import { frame } from "./raw-client";

const head = (s: string) => {
  const m = jsonHead(Buffer.from(s, "utf8"));
  return m && Object.fromEntries(m);
};

describe("json head", () => {
  test("the scalar members before the first object or array, in order", () => {
    assert.deepEqual(head('{"jsonrpc":"2.0","id":7,"method":"edit/generate","params":{"prompt":"x"}}'), { jsonrpc: "2.0", id: 7, method: "edit/generate" });
    assert.deepEqual(head(' {\n "id" : "a\\"b" , "method":"m\\u00e9", "x": -1.5e3, "y": true, "z": null}'), { id: 'a"b', method: "mé", x: -1500, y: true, z: null });
    // params first: nothing after it is read, even a "method" inside it.
    assert.deepEqual(head('{"params":{"method":"edit/generate"},"method":"other","id":1}'), {});
  });

  test("bytes that end inside a member leave that member out", () => {
    assert.deepEqual(head('{"id":12'), {}, "a number may go on");
    assert.deepEqual(head('{"id":12,"method":"edit/gen'), { id: 12 });
    assert.deepEqual(head('{"id":12,"meth'), { id: 12 });
    assert.deepEqual(head('{"id":12,"method"'), { id: 12 });
    assert.deepEqual(head('{"id":12,"method":'), { id: 12 });
    // A multi-byte character cut by the end of the bytes.
    const bytes = Buffer.from('{"id":1,"method":"é', "utf8");
    assert.deepEqual(Object.fromEntries(jsonHead(bytes.subarray(0, bytes.length - 1))!), { id: 1 });
  });

  test("not an object, or a malformed member: null", () => {
    for (const s of ['[{"id":1}]', '"x"', '{id:1}', '{"id" 1}', '{"id":01}', '{"id":tru,', '{"id":1 "m":2}', '{"a":"\\x"}']) assert.equal(head(s), null, s);
  });
});

describe("frame parser screen", () => {
  /** Screens bodies over 100 bytes on their first 16: skip when they start with "S". */
  const screen = (decisions: string[]): LargeBodyScreen => ({
    above: () => 100,
    peekBytes: 16,
    skip: (peek, length) => {
      decisions.push(`${peek.toString("latin1")}/${length}`);
      return peek[0] === 0x53;
    },
  });

  test("a large body starting with S is skipped unread, one starting otherwise is read whole; small ones are not screened", () => {
    for (const step of [1, 7, 100000]) {
      const decisions: string[] = [];
      const p = new FrameParser({ maxMessageBytes: 10000, screen: screen(decisions) });
      const skipped = "S".repeat(16) + "x".repeat(984);
      const kept = "K".repeat(500);
      const small = "S".repeat(50);
      const bytes = Buffer.concat([frame(skipped), frame(kept), frame(small)]);
      const events: ReturnType<FrameParser["push"]> = [];
      let held = 0;
      for (let i = 0; i < bytes.length; i += step) {
        events.push(...p.push(bytes.subarray(i, i + step)));
        held = Math.max(held, p.pendingBytes);
      }
      assert.deepEqual(
        events.map((e) => (e.kind === "frame" ? `frame ${e.body.length} ${e.body.toString("latin1", 0, 1)}` : e.kind === "skipped" ? `skipped ${e.length} ${e.peek.toString("latin1")}` : e.reason)),
        [`skipped 1000 ${"S".repeat(16)}`, "frame 500 K", "frame 50 S"],
        `step ${step}`,
      );
      assert.deepEqual(decisions, [`${"S".repeat(16)}/1000`, `${"K".repeat(16)}/500`]);
      assert.ok(held < 1000, `the skipped body was never held (at most ${held} bytes)`);
      assert.equal(p.pendingBytes, 0);
    }
  });
});

describe("wire: a too-large edit/generate", () => {
  /** A wire with maxPromptChars 10 (screens bodies over 10 * 6 + 65,536 bytes); returns what it wrote and passed on. */
  function wire() {
    const input = new PassThrough();
    const output = new PassThrough();
    const written: string[] = [];
    output.on("data", (b: Buffer) => written.push(b.toString("utf8")));
    const logs: string[] = [];
    const w = createWire({ input, output, log: (l) => logs.push(l), maxPromptChars: () => 10 });
    const passed: { method?: string }[] = [];
    w.reader.listen((m) => passed.push(m as { method?: string }));
    const answers = () =>
      written
        .join("")
        .split(/Content-Length: \d+\r\n\r\n/)
        .filter(Boolean)
        .map((s) => JSON.parse(s) as { id: unknown; error?: { code: number; message: string; data?: unknown } });
    return { input, written, logs, passed, answers, w };
  }
  const tick = () => new Promise((r) => setTimeout(r, 20));
  const big = (id: number, method = "edit/generate") => JSON.stringify({ jsonrpc: "2.0", id, method, params: { prompt: "p".repeat(70_000) } });

  test("answered -32602 naming the field and both sizes, never passed on; the next message is read", async () => {
    const t = wire();
    t.input.write(frame(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { capabilities: {} } })));
    t.input.write(frame(big(2)));
    t.input.write(frame(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "edit/status" })));
    await tick();
    assert.deepEqual(t.passed.map((m) => m.method), ["initialize", "edit/status"]);
    const a = t.answers();
    assert.equal(a.length, 1);
    const bytes = Buffer.byteLength(big(2));
    assert.equal(a[0]!.id, 2);
    assert.equal(a[0]!.error!.code, -32602);
    assert.equal(
      a[0]!.error!.message,
      `request field "prompt": expected at most 10 characters (the maximum prompt size, setting maxPromptChars), found a ${bytes}-byte message (a prompt within the limit fits in 65596 bytes); the message was skipped unread`,
    );
    assert.deepEqual(a[0]!.error!.data, { name: "RequestError", field: "prompt" });
    assert.equal(t.w.reader.refused.skipped, 1);
    assert.equal(t.w.gate.inFlightCount, 2, "initialize and edit/status, passed on and not answered here; the refused request is answered");
    assert.match(t.logs.join("\n"), new RegExp(`refused a ${bytes}-byte edit/generate from its first 4096 bytes`));
  });

  test("the gate still decides first: before initialize -32002; other large messages are read whole", async () => {
    const t = wire();
    t.input.write(frame(big(5)));
    await tick();
    assert.deepEqual(t.answers().map((a) => [a.id, a.error!.code]), [[5, -32002]]);
    t.input.write(frame(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { capabilities: {} } })));
    // A large document is the editor's to send: read and passed on.
    t.input.write(frame(JSON.stringify({ jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri: "file:///a", languageId: "py", version: 1, text: "x".repeat(70_000) } } })));
    await tick();
    assert.deepEqual(t.passed.map((m) => m.method), ["initialize", "textDocument/didOpen"]);
  });
});
