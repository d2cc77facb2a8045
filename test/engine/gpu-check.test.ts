/**
 * `npm run gpu-check --dry-run`: the prepared GPU check with the CPU provider standing in for CUDA on
 * the tiny bundles: every parity run equal (tokens and stop steps), a timing row per tiny dtype bundle,
 * the results file complete. On a GPU machine the same script compares CPU with CUDA.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { mkdtempSync } from "../temp-dirs";

test("gpu-check --dry-run: parity on the tiny bundles and timings per dtype, written to the results file", () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-gpu-check-"));
  const out = join(dir, "results.json");
  const root = join(__dirname, "..", "..");
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "gpu-check.ts"), "--dry-run", "--out", out], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /gpu-check: (\d+)\/\1 parity runs equal, 3 timings/);
  const res = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(res.dryRun, true);
  assert.equal(res.gpuProvider, "cpu");
  assert.equal(res.complete, true);
  assert.ok(res.elapsedS <= res.boundS);
  const bundles = new Set(res.parity.map((p: { bundle: string }) => p.bundle));
  for (const b of ["edit-tiny-char", "tiny-llada", "tiny-dream", "tiny-llada-fp16", "tiny-llada-int4"]) assert.ok(bundles.has(b), b);
  for (const p of res.parity) assert.ok(p.equalTokens && p.equalStops && !p.error, JSON.stringify(p));
  assert.deepEqual(res.timings.map((t: { dtype: string }) => t.dtype), ["fp32", "fp16", "int4"]);
  for (const t of res.timings) {
    assert.equal(t.error, undefined);
    assert.ok(t.firstForwardMs > 0 && t.cachedForwardMs > 0 && t.completionMs > 0);
    assert.equal(t.completionForwards, 32);
  }
});
