/**
 * The extension's side of the wire without VS Code: launch the daemon exactly as client/src/launch.ts
 * says, initialize with the capabilities vscode-languageclient 11 announces for what we use, send
 * the mapped settings as initializationOptions ({ edit: DaemonSettings }), wait for the dynamic
 * inline-completion registration, then run edit/generate with a work-done token and check that the
 * streamed StepEvents are the ones the webview's reducer turns into the returned trace.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { daemonLaunch } from "../../client/src/launch";
import { toDaemonSettings } from "../../client/src/settings";
import { EMPTY_STATE, reduce } from "../../webview/src/state";
import type { GenerateProgress, GenerateResult } from "../../protocol/lsp";

const root = join(__dirname, "..", "..");
const bundle = join(root, "test/fixtures/micro-bundle");
const skip = !existsSync(join(root, "dist/cli.js")) ? "dist/cli.js missing: run npm run build" : !existsSync(join(bundle, "bundle.json")) ? "test/fixtures/micro-bundle missing" : false;

test("launch + initialize + dynamic inline registration + edit/generate with $/progress", { skip, timeout: 120_000 }, async () => {
  const launch = daemonLaunch(process.execPath, root, process.env as Record<string, string>);
  const child = spawn(launch.command, launch.args, { cwd: launch.options.cwd, env: launch.options.env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += String(d)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const settings = toDaemonSettings({ bundlePath: bundle, executionProvider: "cpu", debounceMs: 150 });
  let inlineRegistered!: () => void;
  const registered = new Promise<void>((r) => (inlineRegistered = r));
  conn.onRequest("client/registerCapability", (p: { registrations: { method: string }[] }) => {
    if (p.registrations.some((r) => r.method === "textDocument/inlineCompletion")) inlineRegistered();
    return null;
  });
  // What the client's configuration middleware answers: the mapped DaemonSettings.
  conn.onRequest("workspace/configuration", (p: { items: { section?: string }[] }) => p.items.map((i) => (i.section === "edit" ? settings.daemon : null)));
  conn.onRequest("window/workDoneProgress/create", () => null);
  conn.onNotification(() => undefined);
  const events: GenerateProgress[] = [];
  conn.onNotification("$/progress", (p: { token: string; value: GenerateProgress }) => {
    if (p.token === "gen-1" && p.value.kind === "report") events.push(p.value);
  });
  conn.listen();
  try {
    await conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        textDocument: { inlineCompletion: { dynamicRegistration: true }, synchronization: { dynamicRegistration: true } },
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        window: { workDoneProgress: true },
      },
      initializationOptions: { edit: settings.daemon },
    });
    await conn.sendNotification("initialized", {});
    await Promise.race([registered, new Promise((_, rej) => setTimeout(() => rej(new Error(`no inline registration; stderr: ${stderr}`)), 60_000))]);
    const result = (await conn.sendRequest("edit/generate", { prompt: "1+2", workDoneToken: "gen-1" })) as GenerateResult;
    const t = result.trace;
    assert.equal(t.version, 1);
    assert.equal(t.bundle, "micro-bundle");
    assert.equal(events.length, t.totals.forwards, "one $/progress report per forward");
    // Replaying the streamed events gives the same per-block forwards as the final trace.
    let s = reduce(EMPTY_STATE, { type: "begin", prompt: "1+2", rule: t.rule, blocks: t.blocks.length, blockBudget: t.blocks[0].budget });
    for (const e of events) s = reduce(s, { type: "step", event: e.event });
    assert.deepEqual(s.blocks.map((b) => b.stepsUsed), t.blocks.map((b) => b.stepsUsed));
    await conn.sendRequest("shutdown");
    await conn.sendNotification("exit");
  } finally {
    conn.dispose();
    child.kill();
  }
});
