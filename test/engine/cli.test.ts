import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRules } from "../../research/src/cli/bench";
import { parseParamPairs } from "../../server/src/cli/params";
import { oracleStopStep } from "../../research/src/bench/recorder";
import { UsageError } from "../../server/src/errors";
import { assertValidTrace } from "./trace-schema";


const ROOT = join(__dirname, "..", "..");
const MICRO = join(ROOT, "test", "fixtures", "micro-bundle");
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), ...args], { cwd: ROOT, input, encoding: "utf8" });

test("--param values are typed; malformed pairs are usage errors", () => {
  assert.deepEqual(parseParamPairs(["tau=0.5", "polishSteps=2", "mode=fast", "flag=true", "x=a=b"]), {
    tau: 0.5,
    polishSteps: 2,
    mode: "fast",
    flag: true,
    x: "a=b",
  });
  assert.throws(() => parseParamPairs(["tau"]), UsageError);
});

test("bench --rules/--param routing", () => {
  assert.deepEqual(parseRules("full,edit,confidence", ["tau=0.5", "confidence:threshold=0.9"]), [
    { spec: "full", params: {} },
    { spec: "edit", params: { tau: 0.5 } },
    { spec: "confidence", params: { tau: 0.5, threshold: 0.9 } },
  ]);
  assert.throws(() => parseRules("full", ["jot:x=1"]), UsageError);
});

test("oracle stop step: earliest step after which the argmax fill never changes", () => {
  const final = [5, 6, 7];
  assert.equal(oracleStopStep([[1, 6, 7], [5, 6, 7], [5, 6, 7]], final), 2);
  assert.equal(oracleStopStep([[5, 6, 7], [5, 1, 7], [5, 6, 7]], final), 3);
  assert.equal(oracleStopStep([[5, 6, 7], [5, 6, 7]], final), 1);
});

test("generate: text on stdout, summary on stderr, --trace and --json", () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-cli-"));
  const traceFile = join(dir, "t.json");
  const r = cli(["generate", "--bundle", MICRO, "--provider", "cpu", "--stop", "full", "--trace", traceFile, "788+788-212"]);
  assert.equal(r.status, 0, r.stderr);
  // full on the micro bundle: block 1 runs its 16 forwards, block 2 is skipped after eos (its 16 saved).
  assert.match(r.stderr, /^forwards 16\/32 \(50\.0%\), 16 saved: 16 by skipping block 2 after eos \| blocks stopped 0\/1, certified 0\/0 \| rule full \| cpu \|/m);
  // The provider advice is --verbose's (and doctor's), not every run's.
  assert.doesNotMatch(r.stderr, /^provider /m);
  const trace = JSON.parse(readFileSync(traceFile, "utf8"));
  assertValidTrace(trace);
  assert.equal(r.stdout, trace.text + "\n");
  const j = cli(["generate", "--bundle", MICRO, "--json", "--task", "countdown"], "2 19 1>21\n");
  assert.equal(j.status, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.deepEqual(out.trace.promptIds.length, "C:2 19 1>21=".length);
  assertValidTrace(out.trace);
});

test("bad arguments exit with code 2 and a message", () => {
  for (const args of [["generate", "--nope"], ["generate", "--provider", "tpu", "x"], ["frobnicate"], ["generate", "--bundle", MICRO, "--stop", "nope", "x"], ["serve"]]) {
    const r = cli(args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^edit-dllm: /);
  }
  const missing = cli(["generate", "--bundle", join(ROOT, "no-such-bundle"), "x"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /BundleError/);
});

test("bench writes results.json and results.md", () => {
  const out = join(mkdtempSync(join(tmpdir(), "edit-bench-")), "results.json");
  const r = cli(["bench", "--bundle", MICRO, "--provider", "cpu", "--items", join(ROOT, "test", "fixtures", "bench-items.jsonl"), "--limit", "2", "--rules", "full,edit", "--no-reference", "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(readFileSync(out, "utf8"));
  assert.deepEqual(res.rules, ["full", "edit"]);
  assert.equal(res.results.all.full.items, 2);
  assert.equal(res.results.all.full.reductionVsFull, 0);
  assert.equal(res.results.all.full.avgForwardsPerBlock, 16);
  assert.ok(existsSync(out.replace(/\.json$/, ".md")));
});

test("every command answers --help with its usage on stdout (exit 0)", () => {
  for (const command of ["generate", "bench", "eval", "serve", "doctor"]) {
    const r = cli([command, "--help"]);
    assert.equal(r.status, 0, `${command} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: edit-dllm ${command}`), command);
  }
  const top = cli(["help"]);
  assert.equal(top.status, 0);
  assert.match(top.stdout, /^usage: edit-dllm <command>/);
});
