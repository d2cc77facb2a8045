/**
 * A bundle states the K/V cache mode it runs fastest with (bundle.json generation.cache); the engine
 * uses it unless the request or the user's setting names one, and the CLI and the editor's "auto"
 * leave the choice to the bundle.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "../temp-dirs";
import { loadEngine } from "../../server/src/engine";
import { readBundleConfig } from "../../server/src/bundle/load";
import { toDaemonSettings } from "../../client/src/settings";

const ROOT = join(__dirname, "..", "..");
const LLADA = join(ROOT, "test", "fixtures", "tiny-llada"); // a cache graph

/** A copy of the tiny LLaDA bundle whose bundle.json states `cache`. */
function bundleStating(cache: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "edit-cache-mode-"));
  cpSync(LLADA, dir, { recursive: true });
  const file = join(dir, "bundle.json");
  const b = JSON.parse(readFileSync(file, "utf8"));
  b.generation.cache = cache;
  writeFileSync(file, JSON.stringify(b, null, 2));
  return dir;
}

test("bundle.json generation.cache: validated, used unless the request or the engine option names a mode", async () => {
  assert.throws(() => readBundleConfig(bundleStating("fast")), /generation\.cache/);
  const dir = bundleStating("prefix");
  assert.equal(readBundleConfig(dir).generation.cache, "prefix");
  const engine = await loadEngine({ bundleDir: dir, provider: "cpu" });
  try {
    const own = await engine.generate({ prompt: "hi", stop: "full" });
    assert.equal(own.trace.context?.cacheRequested, "prefix");
    assert.equal(own.trace.context?.cacheMode, "prefix");
    const asked = await engine.generate({ prompt: "hi", stop: "full", cache: "none" });
    assert.equal(asked.trace.context?.cacheMode, "none");
  } finally {
    await engine.dispose();
  }
  const user = await loadEngine({ bundleDir: dir, provider: "cpu", cache: "dual" });
  try {
    assert.equal((await user.generate({ prompt: "hi", stop: "full" })).trace.context?.cacheMode, "dual");
  } finally {
    await user.dispose();
  }
  // A bundle that states nothing runs none.
  const plain = await loadEngine({ bundleDir: LLADA, provider: "cpu" });
  try {
    assert.equal((await plain.generate({ prompt: "hi", stop: "full" })).trace.context?.cacheMode, "none");
  } finally {
    await plain.dispose();
  }
});

test("the CLI without --cache and the editor's \"auto\" leave the mode to the bundle", () => {
  const dir = bundleStating("prefix");
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), "generate", "--bundle", dir, "--stop", "full", "--json", "hi"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).trace.context.cacheMode, "prefix");
  assert.deepEqual(toDaemonSettings({ cache: "auto" }).daemon, {});
  assert.deepEqual(toDaemonSettings({ cache: "none" }).daemon, { cache: "none" });
});
