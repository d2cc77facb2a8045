/**
 * The learned commit policy's training rows (research/src/eval/commit-policy-data.ts) on the embedded
 * bundle: every row has the 14 features, an end-of-answer row is an eos argmax at the block's first
 * eos, a policy-driven recording follows exactly the decode of that rule run alone, and outcome labels
 * change only the rows of decodes that end right with another answer than full's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadItems } from "../../research/src/bench/items";
import { parseDriver, writeCommitPolicyData } from "../../research/src/eval/commit-policy-data";
import { loadEngine } from "../../server/src/engine";
import { defaultBundleDir } from "../../server/src/bundle/locate";
import { FEATURE_NAMES } from "../../server/src/stop/commit-features";
import { scorerFor } from "../../server/src/tasks/index";
import { mkdtempSync } from "../temp-dirs";

const items = loadItems(join(__dirname, "..", "fixtures", "bench-items.jsonl")).filter((i) => i.task === "countdown");
type Row = { task: string; item: number; y: number; f: number[]; eoa?: number };
const read = (f: string): Row[] => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Row);
const col = (name: (typeof FEATURE_NAMES)[number]) => FEATURE_NAMES.indexOf(name);

test("parseDriver: a rule and typed key=value params; anything else is refused by name", () => {
  assert.deepEqual(parseDriver(" learned threshold=0.7  settle=false policy=no-edit"), { rule: "learned", params: { threshold: 0.7, settle: false, policy: "no-edit" } });
  assert.throws(() => parseDriver("learned 0.7"), /"0.7" is not key=value/);
});

test("policy rows: oracle and policy-driven recordings, full and outcome labels", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-policy-rows-"));
  {
    const out = (n: string) => join(dir, n);
    const oracle = await writeCommitPolicyData({ items, out: out("oracle.jsonl") });
    const rows = read(out("oracle.jsonl"));
    assert.equal(rows.length, oracle);
    for (const r of rows) {
      assert.equal(r.f.length, FEATURE_NAMES.length);
      assert.ok(r.y === 0 || r.y === 1);
      if (r.eoa) assert.deepEqual([r.f[col("isEos")], r.f[col("afterEos")]], [1, 0], "the answer's end is an eos argmax with no eos before it");
    }
    const spec = "learned threshold=0.9";
    const byFull = await writeCommitPolicyData({ items, out: out("full.jsonl"), driver: spec });
    const byOutcome = await writeCommitPolicyData({ items, out: out("outcome.jsonl"), driver: spec, label: "outcome" });
    assert.equal(byFull, byOutcome, "the label does not change the decode");
    // The recording follows the rule's own decode: one row per masked position per forward it ran.
    const engine = await loadEngine({ bundleDir: defaultBundleDir(), provider: "cpu" });
    try {
      const f = read(out("full.jsonl"));
      const o = read(out("outcome.jsonl"));
      const { rule, params } = parseDriver(spec);
      for (const [n, item] of items.entries()) {
        const own = await engine.generate({ prompt: item.prompt, task: item.task, stop: rule, params });
        const full = await engine.generate({ prompt: item.prompt, task: item.task, stop: "full" });
        const mine = (rs: Row[]) => rs.filter((r) => r.item === n);
        // Each forward of a block sees the positions not committed before it.
        let expected = 0;
        for (const b of own.trace.blocks) {
          let left = b.end - b.start;
          for (const st of b.steps) {
            expected += left;
            left -= st.committed.length;
          }
        }
        assert.equal(mine(f).length, expected, `item ${n}`);
        const sameLabels = JSON.stringify(mine(f).map((r) => r.y)) === JSON.stringify(mine(o).map((r) => r.y));
        const otherRightAnswer = scorerFor(item.task)(item, own.text) && own.text !== full.text;
        // Outcome labels differ only where the rule's answer is right and not full's (and then they may).
        if (!otherRightAnswer) assert.ok(sameLabels, `item ${n}: labels changed though the decode is not another right answer`);
      }
    } finally {
      await engine.dispose();
    }
  }
});
