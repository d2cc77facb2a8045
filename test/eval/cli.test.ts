/** `edit-dllm eval` end to end on the micro bundle: --quick per task in two runs, then --merge. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
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
