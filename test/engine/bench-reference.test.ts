import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareWithReference, referencePython } from "../../research/src/bench/reference";


const ROOT = join(__dirname, "..", "..");
const MICRO = join(ROOT, "test", "fixtures", "micro-bundle");
const ITEMS = join(ROOT, "test", "fixtures", "bench-items.jsonl");
const cli = (args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
const hasVenv = existsSync(referencePython(ROOT));

test("compareWithReference: ratio = engine tokens/s / reference tokens/s, per rule", () => {
  const ref = { full: { items: 2, forwards: 64, tokens: 40, wallMs: 800, tokensPerSec: 50 } };
  const cmp = compareWithReference(ref, { full: { tokensPerSec: 125, forwards: 64 }, edit: { tokensPerSec: 1, forwards: 1 } }, 1);
  assert.deepEqual(cmp, { threads: 1, rules: { full: { ...ref.full, engineTokensPerSec: 125, engineForwards: 64, ratio: 2.5 } } });
  assert.equal(compareWithReference({ full: { ...ref.full, tokensPerSec: 0 } }, { full: { tokensPerSec: 3, forwards: 64 } }, 1).rules.full.ratio, null);
});

test("bench records why the reference was skipped when the bundle has no PyTorch weights", () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-bench-noref-"));
  const bundle = join(dir, "bundle");
  mkdirSync(bundle);
  for (const f of ["bundle.json", "model.onnx", "tokenizer.json", "edit-metadata.safetensors"]) copyFileSync(join(MICRO, f), join(bundle, f));
  const out = join(dir, "results.json");
  const r = cli(["bench", "--bundle", bundle, "--provider", "cpu", "--items", ITEMS, "--limit", "1", "--rules", "full", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(typeof res.reference.skipped, "string");
  assert.match(res.reference.skipped, hasVenv ? /reference/ : /venv/);
  assert.match(readFileSync(join(dir, "results.md"), "utf8"), /Skipped: /);
});

test("bench runs the PyTorch reference on the same items and reports the speed ratio", { skip: hasVenv ? false : "no training/.venv" }, () => {
  const out = join(mkdtempSync(join(tmpdir(), "edit-bench-ref-")), "results.json");
  const r = cli(["bench", "--bundle", MICRO, "--provider", "cpu", "--threads", "1", "--items", ITEMS, "--limit", "2", "--rules", "full,edit", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(out, "utf8"));
  assert.equal(res.reference.skipped, undefined, String(res.reference.skipped));
  assert.equal(res.reference.threads, 1);
  assert.deepEqual(Object.keys(res.reference.rules), ["full", "edit"]);
  for (const rule of ["full", "edit"]) {
    const x = res.reference.rules[rule];
    assert.equal(x.items, 2);
    assert.equal(typeof x.ratio, "number");
    assert.ok(Number.isFinite(x.ratio) && x.ratio > 0);
    assert.equal(x.engineTokensPerSec, res.results.all[rule].tokensPerSec);
    // Both samplers implement the contract on the same weights: same forwards on the same items.
    assert.equal(x.forwards, x.engineForwards);
  }
  assert.match(readFileSync(out.replace(/\.json$/, ".md"), "utf8"), /\| full \| 2 \| [\d.]+ \| [\d.]+ \| [\d.]+x \|/);
});
