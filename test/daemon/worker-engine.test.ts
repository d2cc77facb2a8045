/**
 * The inference worker (server/src/worker): the same answers as the in-process engine (the reference),
 * step events relayed, a cancel taking effect, task names checked as own keys, a crash failing the
 * pending request with a clear error and the worker coming back; and the privacy promise: a daemon
 * generation leaves no ONNX Runtime telemetry file in a fresh temp folder or home.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Engine } from "../../server/src/engine-types";
import { loadEngine } from "../../server/src/engine";
import { loadWorkerEngine, WorkerEngine } from "../../server/src/worker/worker-engine";
import { microBundle, root } from "./lsp-client";
import { rawInitialize, spawnRaw } from "./raw-client";

let reference: Engine;
let worker: Engine;
before(async () => {
  reference = await loadEngine({ bundleDir: microBundle, provider: "cpu" });
  worker = await loadWorkerEngine({ bundleDir: microBundle, provider: "cpu" });
});
after(async () => {
  await reference?.dispose();
  await worker?.dispose();
});

describe("worker engine", { timeout: 120_000 }, () => {
  test("answers as the in-process engine, with the same info and step events", async () => {
    assert.deepEqual({ ...worker.info, loadMs: 0 }, { ...reference.info, loadMs: 0 });
    for (const prompt of ["7 3 12>33", "1 2 3>6"]) {
      const stepsW: number[] = [];
      const stepsR: number[] = [];
      const w = await worker.generate({ prompt, stop: "full", onStep: (e) => stepsW.push(e.step.step) });
      const r = await reference.generate({ prompt, stop: "full", onStep: (e) => stepsR.push(e.step.step) });
      assert.equal(w.text, r.text);
      assert.deepEqual(w.trace.blocks.map((b) => b.stepsUsed), r.trace.blocks.map((b) => b.stepsUsed));
      assert.deepEqual(stepsW, stepsR);
    }
  });

  test("a cancel stops the generation at a forward boundary", async () => {
    const c = new AbortController();
    let steps = 0;
    // One block of 96 steps: 96 forwards (no block to skip after eos), so the abort, which travels to
    // the worker as a message, lands long before the last forward even on a loaded machine.
    const shape = { genLength: 96, blockLength: 96, steps: 96 };
    const run = worker.generate({ prompt: "7 3 12>33", stop: "full", ...shape, signal: c.signal, onStep: () => (++steps === 1 ? c.abort() : undefined) });
    await assert.rejects(run, (e: Error) => e.name === "CancelledError");
    const full = await reference.generate({ prompt: "7 3 12>33", stop: "full", ...shape });
    assert.equal(full.trace.totals.forwards, 96);
    assert.ok(steps < full.trace.totals.forwards, `${steps} steps ran of ${full.trace.totals.forwards}`);
  });

  test("task names are checked as the bundle's own keys", async () => {
    for (const task of ["constructor", "__proto__", "toString"]) {
      await assert.rejects(worker.generate({ prompt: "1", task }), (e: Error & { field?: string }) => e.name === "RequestError" && e.field === "task", task);
      // The in-process engine (the CLI's) checks own keys too.
      await assert.rejects(reference.generate({ prompt: "1", task }), (e: Error & { field?: string }) => e.name === "RequestError" && e.field === "task", task);
    }
  });

  test("a crashed worker fails its request with a clear error and is started again", async () => {
    const w = worker as WorkerEngine;
    const run = w.generate({ prompt: "7 3 12>33", stop: "full" });
    await w.crashWorkerForTest();
    await assert.rejects(run, /inference worker stopped unexpectedly/);
    const again = await w.generate({ prompt: "1 2 3>6" });
    assert.equal(again.text, (await reference.generate({ prompt: "1 2 3>6" })).text);
  });
});

describe("privacy", { timeout: 120_000 }, () => {
  test("a generation leaves no telemetry file (mat-debug-*, .onnxruntime) in a fresh temp folder or home", () => {
    const box = mkdtempSync(join(tmpdir(), "edit-privacy-"));
    try {
      const tmp = join(box, "tmp");
      const home = join(box, "home");
      for (const d of [tmp, home]) mkdirSync(d);
      // Our own processes must switch telemetry off: the variable is removed from the child's environment.
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, HOME: home, XDG_CACHE_HOME: join(home, ".cache") };
      delete env.ORT_DISABLE_TELEMETRY;
      const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "server", "src", "cli.ts"), "generate", "--bundle", microBundle, "--provider", "cpu", "1 2 3>6"], { cwd: root, env, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const files = walk(box).map((f) => relative(box, f));
      // tsx's own compile cache (tmp/tsx-*) is the test harness, not the product.
      const written = files.filter((f) => !f.startsWith(join("tmp", "tsx-")));
      assert.deepEqual(written, []);
    } finally {
      rmSync(box, { recursive: true, force: true });
    }
  });

  test("a daemon generation (inference worker) leaves no file either, and the daemon exits cleanly", async () => {
    const box = mkdtempSync(join(tmpdir(), "edit-privacy-"));
    try {
      const tmp = join(box, "tmp");
      const home = join(box, "home");
      for (const d of [tmp, home]) mkdirSync(d);
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp, HOME: home, XDG_CACHE_HOME: join(home, ".cache") };
      delete env.ORT_DISABLE_TELEMETRY;
      const settings = { bundlePath: microBundle, executionProvider: "cpu" };
      const d = spawnRaw({ env, configuration: settings });
      try {
        await rawInitialize(d, settings);
        d.request("gen", "edit/generate", { prompt: "1 2 3>6" });
        const a = await d.answer((x) => x.id === "gen");
        assert.ok(a.result, JSON.stringify(a.error));
        d.request("down", "shutdown");
        await d.answer((x) => x.id === "down");
        d.notify("exit");
        assert.equal(await d.exited, 0);
      } finally {
        d.kill();
      }
      const written = walk(box).map((f) => relative(box, f)).filter((f) => !f.startsWith(join("tmp", "tsx-")));
      assert.deepEqual(written, []);
    } finally {
      rmSync(box, { recursive: true, force: true });
    }
  });
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
