/**
 * The daemon as an editor sees it from outside (issue 13's frictions): `initialize` names the
 * package's version, the process holds no TCP/UDP socket and listens on no port (Linux /proc),
 * and `shutdown` + `exit` sent back to back end it with code 0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { initialize, kill, microBundle, root, spawnDaemon } from "./lsp-client";

const INLINE = "textDocument/inlineCompletion";
const pkgVersion = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

/** TCP/UDP sockets (IPv4 and IPv6) among a process's file descriptors, from /proc. */
function networkSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // the fd closed while we looked
    }
  }
  const found: string[] = [];
  for (const table of ["tcp", "tcp6", "udp", "udp6"]) {
    const rows = readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
    for (const r of rows) {
      const cols = r.trim().split(/\s+/);
      if (inodes.has(cols[9])) found.push(`${table} local ${cols[1]} remote ${cols[2]}`);
    }
  }
  return found;
}

test("serverInfo.version, no network socket after a completion, shutdown + exit back to back -> 0", { timeout: 120_000 }, async () => {
  const settings = { bundlePath: microBundle, executionProvider: "cpu", inlineMinConfidence: 0 };
  const d = spawnDaemon({ configuration: () => settings });
  try {
    const init = (await initialize(d, settings)) as { serverInfo?: { name: string; version?: string } };
    assert.equal(init.serverInfo?.version, pkgVersion);
    await d.registered(INLINE);
    await d.rpc.sendNotification("textDocument/didOpen", { textDocument: { uri: "file:///a.py", languageId: "python", version: 1, text: "def f(x):\n    return x" } });
    const r = await Promise.race([d.rpc.sendRequest(INLINE, { textDocument: { uri: "file:///a.py" }, position: { line: 1, character: 12 }, context: { triggerKind: 2 } }), d.exited.then((c) => `exited ${c}`)]);
    assert.notEqual(typeof r, "string", `the daemon died during the completion: ${String(r)}; stderr:\n${d.stderr()}`);
    if (existsSync("/proc/self/net/tcp")) assert.deepEqual(networkSockets(d.child.pid!), []);
    // No await between the two: a client that does not wait for the shutdown answer.
    const shut = d.rpc.sendRequest("shutdown");
    void d.rpc.sendNotification("exit");
    // The process may end before the shutdown answer is read: wait for whichever comes first.
    await Promise.race([shut.catch(() => undefined), d.exited]);
    assert.equal(await d.exited, 0, `exit code; stderr:\n${d.stderr()}`);
  } finally {
    kill(d);
  }
});

test("a cached answer the gate hid is reported as low confidence, not as no answer", { timeout: 120_000 }, async () => {
  // Threshold 1: the gate hides every answer whose mean top-1 probability is below 1.
  const settings = { bundlePath: microBundle, executionProvider: "cpu", inlineMinConfidence: 1 };
  const d = spawnDaemon({ configuration: () => settings });
  try {
    await initialize(d, settings);
    await d.registered(INLINE);
    await d.rpc.sendNotification("textDocument/didOpen", { textDocument: { uri: "file:///b.py", languageId: "python", version: 1, text: "def f(x):\n    return x" } });
    const ask = () => d.rpc.sendRequest(INLINE, { textDocument: { uri: "file:///b.py" }, position: { line: 1, character: 12 }, context: { triggerKind: 2 } });
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      await ask();
      const s = (await d.rpc.sendRequest("edit/status")) as { lastCompletion?: { shown: boolean; reason?: string; source?: string } };
      assert.equal(s.lastCompletion?.shown, false);
      reasons.push(s.lastCompletion?.reason);
    }
    assert.match(reasons[0] ?? "", /^low confidence \(mean top-1 probability 0\.\d\d < 1\)$/);
    assert.equal(reasons[1], `${reasons[0]}, cached`);
  } finally {
    kill(d);
  }
});
