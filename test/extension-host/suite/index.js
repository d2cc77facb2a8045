// The extension-host suite: runs inside VS Code (loaded by @vscode/test-electron), against the real
// daemon (dist/cli.js) and the embedded bundle. A tiny sequential runner instead of mocha.
"use strict";
const assert = require("node:assert/strict");
const vscode = require("vscode");

const EXTENSION_ID = "edit-dllm.edit-dllm";

async function waitFor(what, fn, timeoutMs = 120_000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });
let api;

test("activates and starts the daemon; the model loads", async () => {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in the development host`);
  api = await ext.activate();
  await waitFor("the daemon to run", () => api.daemon.client.isRunning());
  const status = await waitFor("edit/status ready", async () => {
    const s = await api.daemon.refreshStatus();
    return s && s.state === "ready" ? s : null;
  });
  assert.equal(status.bundle, "edit-tiny-char");
  const commands = await vscode.commands.getCommands(true);
  for (const c of ["edit.generateFromPrompt", "edit.generateFromSelection", "edit.showCertificates", "edit.restartDaemon", "edit.selectModelBundle"]) {
    assert.ok(commands.includes(c), `command ${c} is registered`);
  }
});

test("inline completion: registered dynamically once loaded, answers through the debounce middleware", async () => {
  const doc = await vscode.workspace.openTextDocument({ language: "plaintext", content: "123+456-78=" });
  const editor = await vscode.window.showTextDocument(doc);
  const end = doc.positionAt(doc.getText().length);
  editor.selection = new vscode.Selection(end, end);
  const provider = await waitFor("the inline provider registration", () => api.inlineProvider(doc));
  const stats = api.daemon.supersession.stats;
  const completedBefore = stats.completed;
  const source = new vscode.CancellationTokenSource();
  const result = await provider.provideInlineCompletionItems(doc, end, { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined }, source.token);
  const items = Array.isArray(result) ? result : result ? result.items : [];
  assert.ok(Array.isArray(items), "an inline completion list");
  for (const item of items) assert.equal(typeof (typeof item.insertText === "string" ? item.insertText : item.insertText.value), "string");
  assert.equal(stats.completed, completedBefore + 1, "the request went through the middleware to the daemon");

  // The editor's own trigger reaches the same provider (through the middleware's bookkeeping).
  const startedBefore = stats.started;
  await vscode.commands.executeCommand("editor.action.inlineSuggest.trigger");
  await waitFor("the editor to ask the inline provider", () => stats.started > startedBefore, 15_000);

  // A cancelled request resolves empty without reaching the daemon.
  const cancelled = new vscode.CancellationTokenSource();
  cancelled.cancel();
  const none = await provider.provideInlineCompletionItems(doc, end, { triggerKind: vscode.InlineCompletionTriggerKind.Automatic, selectedCompletionInfo: undefined }, cancelled.token);
  assert.equal(none, null);
});

test("EDIT: Generate from Prompt runs edit/generate on the real daemon and records the trace", async () => {
  const result = await vscode.commands.executeCommand("edit.generateFromPrompt", "123+456-78");
  assert.ok(result, "the command returns the GenerateResult");
  assert.equal(typeof result.text, "string");
  const t = result.trace;
  assert.equal(t.version, 1);
  assert.equal(t.blocks.length, t.genLength / t.blockLength);
  assert.ok(t.totals.forwards <= t.totals.budget);
  assert.equal(t.totals.forwards, t.blocks.reduce((a, b) => a + b.stepsUsed, 0));
  assert.deepEqual(api.lastTrace(), t);
});

test("EDIT: Show Stop Certificates opens the panel", async () => {
  await vscode.commands.executeCommand("edit.showCertificates");
  assert.equal(api.panel.isOpen, true);
});

test("EDIT: Restart Daemon restarts and the model loads again", async () => {
  await vscode.commands.executeCommand("edit.restartDaemon");
  await waitFor("the daemon to run again", () => api.daemon.client.isRunning());
  await waitFor("edit/status ready after restart", async () => {
    const s = await api.daemon.refreshStatus();
    return s && s.state === "ready";
  });
});

exports.run = async function run() {
  const failures = [];
  for (const t of tests) {
    const started = Date.now();
    try {
      await t.fn();
      console.log(`ok - ${t.name} (${Date.now() - started} ms)`);
    } catch (e) {
      console.error(`not ok - ${t.name}\n  ${e && e.stack ? e.stack : e}`);
      failures.push(t.name);
    }
  }
  if (failures.length) throw new Error(`${failures.length} of ${tests.length} extension-host tests failed: ${failures.join("; ")}`);
};
