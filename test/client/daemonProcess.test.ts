/** DaemonProcess: what the client remembers of a daemon that died (exit code or signal, last stderr line). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { DaemonProcess } from "../../client/src/daemonProcess";

const launch = (script: string) => ({ command: process.execPath, args: ["-e", script], options: { cwd: process.cwd(), env: { ...process.env } } });

test("an exit code and the last stderr line", async () => {
  const p = new DaemonProcess(launch('process.stderr.write("loading\\nno bundle.json in /x\\n"); process.exit(3)'));
  const child = await p.start();
  child.stdout?.resume();
  await p.exited(10_000);
  assert.equal(p.describeExit(), "exit code 3: no bundle.json in /x");
});

test("a signal, and a process still running is described as null until it ends", async () => {
  const p = new DaemonProcess(launch("setInterval(() => {}, 1000)"));
  const child = await p.start();
  assert.equal(p.describeExit(), null);
  child.kill("SIGKILL");
  await p.exited(10_000);
  assert.equal(p.describeExit(), "signal SIGKILL");
});

test("killIfAlive ends a process that outlived the client's stop", async () => {
  const p = new DaemonProcess(launch("setInterval(() => {}, 1000)"));
  await p.start();
  p.killIfAlive();
  await p.exited(10_000);
  assert.equal(p.describeExit(), "signal SIGKILL");
});

test("a command that cannot be spawned rejects the start", async () => {
  const p = new DaemonProcess({ command: "/nonexistent/node", args: [], options: { cwd: process.cwd(), env: {} } });
  await assert.rejects(p.start(), /ENOENT/);
});
