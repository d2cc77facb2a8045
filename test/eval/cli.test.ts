/** `edit-dllm eval` end to end on the micro bundle: --quick per task in two runs, then --merge. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { checkerFor, exactMatch, scorerFor } from "../../server/src/tasks/index";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../server/src/cli";


const FIXTURES = join(__dirname, "..", "fixtures");
const micro = join(FIXTURES, "micro-bundle");
const items = join(FIXTURES, "bench-items.jsonl");

test("eval --quick per task, then --merge: one results.md and a stop choice per task", { skip: !existsSync(micro) && "no micro bundle" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "eval-cli-"));
  const common = ["--bundle", micro, "--val", items, "--test", items, "--quick", "--threads", "1", "--check-items", "1"];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write; // keep the test log readable
  try {
    assert.equal(await main(["eval", ...common, "--task", "arith", "--out", join(dir, "a")]), 0);
    assert.equal(await main(["eval", ...common, "--task", "countdown", "--families", "edit", "--out", join(dir, "c")]), 0);
    assert.equal(await main(["eval", "--merge", join(dir, "a", "eval.json"), "--merge", join(dir, "c", "eval.json"), "--out", join(dir, "m")]), 0);
    assert.equal(await main(["eval", ...common, "--families", "edit,nonsense"]), 2);
  } finally {
    process.stdout.write = write;
  }
  const choice = JSON.parse(readFileSync(join(dir, "m", "stop-choice.json"), "utf8")) as { tasks: Record<string, { stop: { rule: string; params: object } }> };
  assert.deepEqual(Object.keys(choice.tasks).sort(), ["arith", "countdown"]);
  const merged = JSON.parse(readFileSync(join(dir, "m", "eval.json"), "utf8")) as { splits: Record<string, Record<string, { configs: { family: string }[] }>> };
  assert.deepEqual(Object.keys(merged.splits.test).sort(), ["arith", "countdown"]);
  assert.ok(merged.splits.test.arith.configs.some((c) => c.family === "confidence"));
  assert.ok(!merged.splits.test.countdown.configs.some((c) => c.family === "confidence"), "--families edit skips commit rules");
  assert.match(readFileSync(join(dir, "m", "results.md"), "utf8"), /## Default rule per task/);
});

test("eval: a task without a checker is scored by exact match; items of no bundle task are refused", () => {
  assert.equal(exactMatch({ task: "chat", prompt: "p", answer: " a b\n" }, "a b"), true);
  assert.equal(exactMatch({ task: "chat", prompt: "p", answer: "a b" }, "a  b"), false);
  assert.equal(scorerFor("arith"), checkerFor("arith"));
  const llada = join(FIXTURES, "tiny-llada");
  const root = join(__dirname, "..", "..");
  // The reference answer: what `generate --stop full` prints for the prompt (the engine, not eval's scorer).
  const gen = spawnSync(process.execPath, ["--import", "tsx", join(root, "server", "src", "cli.ts"), "generate", "--bundle", llada, "--stop", "full", "hi"], { encoding: "utf8" });
  assert.equal(gen.status, 0, gen.stderr);
  const dir = mkdtempSync(join(tmpdir(), "eval-exact-"));
  const file = join(dir, "items.jsonl");
  writeFileSync(file, [{ task: "chat", prompt: "hi", answer: gen.stdout.replace(/\n$/, "") }, { task: "chat", prompt: "hi", answer: "not this" }].map((o) => JSON.stringify(o)).join("\n") + "\n");
  const sudoku = join(dir, "sudoku.jsonl");
  writeFileSync(sudoku, JSON.stringify({ task: "sudoku", prompt: "1.34/34.2/2.43/4321", answer: "#1234/3412/2143/4321" }) + "\n");
  // In child processes: the test runner reads this process's stdout.
  const evalCli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(root, "server", "src", "cli.ts"), "eval", ...args], { encoding: "utf8" });
  const ok = evalCli(["--bundle", llada, "--val", file, "--test", file, "--quick", "--families", "none", "--check-items", "1", "--out", join(dir, "o")]);
  assert.equal(ok.status, 0, ok.stderr);
  const refused = evalCli(["--bundle", micro, "--val", sudoku, "--test", sudoku]);
  assert.equal(refused.status, 2);
  const err = ok.stderr + refused.stderr;
  assert.match(err, /task "chat" has no checker .*: scored by exact match/);
  assert.match(err, /no item is of a task the bundle has: items are sudoku, the bundle's tasks are arith, countdown/);
  const e = JSON.parse(readFileSync(join(dir, "o", "eval.json"), "utf8")) as { splits: Record<string, Record<string, { full: { correct: number; items: number; outcomes: string } }>> };
  assert.deepEqual([e.splits.test.chat.full.correct, e.splits.test.chat.full.items, e.splits.test.chat.full.outcomes], [1, 2, "10"]);
});
