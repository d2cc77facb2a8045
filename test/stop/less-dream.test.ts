/**
 * LESS's Dream sampler (`less` variant=dream) on hand-built views. The decisions follow the authors'
 * dream_sampling/less.py (repository LESS-Is-More; line numbers in the comments are that file's);
 * the probabilities and drifts were computed once with Python's math module, never by the code under test.
 * Vocabulary 4 with the mask id 3 (test/stop/view.ts), eos id 2; the mask column is banned (L171), so
 * a row [a, b, c, m] is the softmax of [a, b, c]:
 *   C = [3, 0, 0, 9] -> top-1 0.909443 (0.0025 if the mask were not banned), U = [1, 0, 0, 0] -> 0.576117,
 *   D = [4, 0, 0, 0] -> 0.964663, N = [2.4, 0, 0, 0] -> 0.846428 (winner 0), E = [0, 0, 2.4, 0] -> 0.846428 (eos);
 *   identical rows on consecutive forwards drift 0; JS(C, U) = 0.0774595 > 0.04.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule } from "../../server/src/stop/registry";
import { eosConfidenceThreshold } from "../../server/src/stop/less-dream";
import { StopRuleContextError, StopRuleParamError } from "../../server/src/stop/errors";
import type { ParamValue } from "../../protocol/lsp";
import type { StopRule } from "../../server/src/stop/rule";
import type { DllmModel } from "../../server/src/model/types";
import { denoise } from "../../server/src/sampler/denoise";
import { block, ctx2d, view } from "./view";

const EOS = 2;
const C = [3, 0, 0, 9];
const U = [1, 0, 0, 0];
const D = [4, 0, 0, 0];
const N = [2.4, 0, 0, 0];
const E = [0, 0, 2.4, 0];

const dream = (params: Record<string, ParamValue> = {}) => createStopRule("less", { variant: "dream", ...params }, { ...ctx2d(), eosId: EOS });

/** The banned argmax of a row (what the sampler commits for these rows). */
const winner = (row: number[]) => row.slice(0, 3).indexOf(Math.max(...row.slice(0, 3)));

/**
 * Runs `rule` like the sampler: blocks of `len` from 4 (prompt 0..3), `budget` forwards each at most,
 * rows(t, pos) the logits of every position at the block's step t; commits exactly `commitOnly`.
 * Returns per step the committed positions, "stop" marking a stop.
 */
function drive(rule: StopRule, seqLen: number, len: number, budget: number, rows: (t: number, pos: number, blk: number) => number[], maxSteps = budget): (number[] | "stop")[][] {
  const tokens = new Map<number, number>();
  const out: (number[] | "stop")[][] = [];
  for (let b = 0, start = 4; start < seqLen; b++, start += len) {
    const end = start + len;
    const steps: (number[] | "stop")[] = [];
    rule.beginBlock(block(b, start, end, budget));
    for (let t = 1; t <= maxSteps; t++) {
      const logits: Record<number, number[]> = {};
      for (let p = 4; p < seqLen; p++) logits[p] = rows(t, p, b);
      const visible = [...tokens.keys()].filter((p) => p >= start && p < end);
      const v = view({ step: t, seqLen, block: [start, end], visible, vocab: 4, logits });
      for (const [p, tok] of tokens) v.ids[p] = tok;
      v.masked.forEach((p, i) => {
        v.x0[i] = winner(logits[p]);
      });
      if (v.masked.length === 0) break;
      const d = rule.observe(v);
      const set = d.commitOnly ?? [];
      for (const p of set) tokens.set(p, winner(logits[p]));
      steps.push(set);
      if (d.stop) {
        steps.push("stop");
        break;
      }
    }
    out.push(steps);
  }
  return out;
}

test("less variant=dream: eos thresholds of L197-201, alpha = max(floor, 0.9 - 0.1 prog), JS x 0.5", () => {
  const p = { eosConfThreshold: 0.9, eosConfAnneal: 0.1, eosConfFloor: 0.55 };
  assert.ok(Math.abs(eosConfidenceThreshold(p, 0.3) - 0.87) < 1e-15);
  assert.ok(Math.abs(eosConfidenceThreshold(p, 1) - 0.8) < 1e-15);
  assert.equal(eosConfidenceThreshold({ ...p, eosConfAnneal: 0.5 }, 1), 0.55, "the floor binds");
  const r = dream();
  assert.equal(r.polishSteps, 1, "one forward fills what is left after the eos stop (L355-361)");
  assert.equal(r.wantsRowsToEnd, true);
});

test("less variant=dream: frontier-first prefix run (L291-311), mask id banned, visible positions skipped", () => {
  // Block [4, 10), budget 16. Steps 1-2: nothing persists yet -> the frontier is committed alone (L286-290).
  // Step 3: 6 U (0.576 < 0.75), 7, 8, 9 C (accepted) -> frontier waits, the most confident alternative
  //   in (6, 22]: a tie at 0.909 -> the first, 7 (L273-284); wait 1.
  // Step 4: 6 turns C: drift JS(C, U) = 0.0775 > 0.04 -> still rejected; alternative 8; wait 2.
  // Step 5: 6 C again (drift 0, winner 0 for 5 forwards) -> accepted: the run 6, (7, 8 visible), 9 (L295-307).
  const rows = (t: number, p: number) => (p === 6 ? (t <= 3 ? U : C) : C);
  assert.deepEqual(drive(dream(), 10, 6, 16, rows), [[[4], [5], [7], [8], [6, 9]]]);
  // The run stops at the first masked position not accepted: 8 U -> step 3 commits 6, 7 only, not 9.
  const gap = (_t: number, p: number) => (p === 8 ? U : C);
  assert.deepEqual(drive(dream(), 10, 6, 16, gap, 3), [[[4], [5], [6, 7]]]);
});

test("less variant=dream: frontier patience 2 and window 16 (L62-63, L271-290)", () => {
  // Block [4, 12), budget 16; 6 and 9 U throughout; 7 C (0.909), 8 D (0.965), 10, 11 C.
  // Step 3: alternatives 7, 8, 10, 11 in (6, 22] -> 8 (most confident); wait 1. Step 4: 7 (0.909 ties 10, 11:
  // the first); wait 2. Step 5: wait = patience -> the frontier 6 itself; wait 0. Step 6: frontier 9 waits,
  // alternatives 10, 11 tie -> 10; wait 1. Step 7: 11; wait 2. Step 8: 9.
  const rows = (_t: number, p: number) => (p === 6 || p === 9 ? U : p === 8 ? D : C);
  assert.deepEqual(drive(dream(), 12, 8, 16, rows), [[[4], [5], [8], [7], [6], [10], [11], [9]]]);
  // window 1: only (6, 7] may go ahead: step 3 commits 7, step 4 has none -> the frontier.
  assert.deepEqual(drive(dream({ frontierWindow: 1 }), 12, 8, 16, rows, 4), [[[4], [5], [7], [6]]]);
  // patience 0: the frontier never waits.
  assert.deepEqual(drive(dream({ frontierPatience: 0 }), 12, 8, 16, rows, 3), [[[4], [5], [6]]]);
});

test("less variant=dream: an eos winner needs conf >= max(0.55, 0.9 - 0.1 t/T) (L197-212), then the eos early stop (L329-347)", () => {
  // Block [4, 12), budget 10 (prog = t / 10), patience 100 so the frontier waits while alternatives exist.
  // 6 E: eos at 0.846428, 7-10 N (0.846428, winner 0), 11 U. Eos threshold: t3 .87, t4 .86, t5 .85, t6 .84.
  // Steps 3-5: 6 rejected (0.846 < threshold), alternatives 7, 8, 9 (ties: the first). Step 6: 6 accepted ->
  // run 6, (7-9 visible), 10; after it 11 is masked, the first eos (6) has no mask before it -> stop.
  const rows = (_t: number, p: number) => (p === 6 ? E : p === 11 ? U : N);
  assert.deepEqual(drive(dream({ frontierPatience: 100 }), 12, 8, 10, rows), [[[4], [5], [7], [8], [9], [6, 10], "stop"]]);
  // The same rows with 6 not eos (N): accepted at step 3 like the rest, the run 6-10; no eos, no stop.
  const plain = (_t: number, p: number) => (p === 11 ? U : N);
  assert.deepEqual(drive(dream({ frontierPatience: 100 }), 12, 8, 10, plain, 3), [[[4], [5], [6, 7, 8, 9, 10]]]);
  // eosEarlyStop=false: the same commit at step 6, no stop; step 7 commits the frontier 11.
  assert.deepEqual(drive(dream({ frontierPatience: 100, eosEarlyStop: false }), 12, 8, 10, rows, 6)[0][5], [6, 10]);
  assert.deepEqual(drive(dream({ frontierPatience: 100, eosEarlyStop: false }), 12, 8, 10, rows, 7).flat().includes("stop"), false);
});

test("less variant=dream: the eos drift gate (jsThreshold x eosJsMult = 0.02) and no stop while a mask precedes the eos", () => {
  // Rows alternate [0,0,3,0] / [0,0,6,0]: top-1 0.909443 / 0.995067, drift 0.0243469 each step.
  // As eos (id 2) that fails 0.02; with the winner 0 ([3,0,0,0] / [6,0,0,0], same numbers) it passes 0.04.
  const alt = (t: number, id: number) => {
    const r = [0, 0, 0, 0];
    r[id] = t % 2 ? 3 : 6;
    return r;
  };
  // Block [4, 8), budget 8, patience 100: 4 U, 6 eos-alternating, 5 and 7 0-alternating. Steps 1, 2: the
  // frontier (nothing persists yet). Step 3: 6 (eos, conf 0.909 >= .87 but drift 0.0243 > 0.02) rejected,
  // 7 accepted -> [7]. Step 4: no alternative -> the frontier 6 (eos); no mask is left -> no stop (L332-334).
  const rows = (t: number, p: number) => (p === 4 ? U : p === 6 ? alt(t, EOS) : alt(t, 0));
  assert.deepEqual(drive(dream({ frontierPatience: 100 }), 8, 4, 8, rows), [[[4], [5], [7], [6]]]);
  // jsThreshold 0.05 -> the eos gate is 0.025 >= 0.0243: step 3 accepts 6 and runs to 7; nothing is masked after.
  assert.deepEqual(drive(dream({ frontierPatience: 100, jsThreshold: 0.05 }), 8, 4, 8, rows), [[[4], [5], [6, 7]]]);
  // An eos committed ahead of a waiting frontier does not stop: block [4, 12), all U but 7 = [0, 0, 4, 0]
  // (eos at 0.964663 >= .87, drift 0) -> step 3 commits the alternative 7; the mask 6 precedes it -> no stop.
  const ahead = (_t: number, p: number) => (p === 7 ? [0, 0, 4, 0] : U);
  const got = drive(dream({ frontierPatience: 100 }), 12, 8, 10, ahead, 3)[0];
  assert.deepEqual(got, [[4], [5], [7]]);
});

test("less variant=dream: the histories live across blocks (the sampler has no blocks)", () => {
  // Blocks [4, 6), [6, 8), budget 4 each; every row C. Block 0: steps 1, 2 commit 4, 5 (forced: nothing
  // persists yet). Block 1, step 1: 6 and 7 were updated at both forwards of block 0 -> third forward, accepted
  // -> the run 6, 7 at once (the LLaDA form resets per block and would wait).
  assert.deepEqual(drive(dream(), 8, 2, 4, () => C), [[[4], [5]], [[6, 7]]]);
  const llada = createStopRule("less", {}, ctx2d());
  assert.deepEqual(drive(llada, 8, 2, 4, () => C, 1)[1], [[]]);
});

test("less variant=dream: bad input names what is wrong", () => {
  assert.throws(() => createStopRule("less", { variant: "dream" }, ctx2d()), (e: unknown) => e instanceof StopRuleContextError && /eosId/.test(e.message));
  assert.throws(() => dream({ union: true }), (e: unknown) => e instanceof StopRuleParamError && e.param === "union");
  assert.throws(() => createStopRule("less", { frontierWindow: 8 }, ctx2d()), (e: unknown) => e instanceof StopRuleParamError && e.param === "frontierWindow");
  assert.throws(() => dream({ frontierWindow: 0 }), StopRuleParamError);
});

test("less variant=dream in the sampler: the eos stop commits the set, one forward fills the block, later blocks are eos", async () => {
  // Prompt 0..3, two blocks of 4, 16 steps (budget 8 each); constant rows (mask logit -9): 4, 5 [3, 0, 0, -9]
  // (winner 0), 6 [0, 0, 4, -9] (eos, 0.964663), 7 [0, 1, 0, -9] (winner 1, 0.576117). Steps 1, 2: the frontier
  // (4, then 5). Step 3: 6 persists, 0.9647 >= max(0.55, 0.9 - 0.1 * 3/8) = 0.8625, drift 0 -> the run [6] (7 is
  // not accepted); no mask before the eos at 6 -> stop (3 + 1 polish < 8): one forward fills 7 with its argmax 1
  // (less.py L355-361); block 1 is eos (the text ends at the eos).
  const V = 4;
  const rows: Record<number, number[]> = { 4: [3, 0, 0, -9], 5: [3, 0, 0, -9], 6: [0, 0, 4, -9], 7: [0, 1, 0, -9] };
  let forwards = 0;
  const model: DllmModel = {
    provider: "fake",
    async forward(ids) {
      forwards++;
      const logits = new Float32Array(ids.length * V);
      for (const [p, row] of Object.entries(rows)) logits.set(row, Number(p) * V);
      return { rowStart: 0, logits, vocab: V, activations: new Map() };
    },
    async dispose() {},
  };
  const res = await denoise(model, dream(), { promptIds: [0, 1, 0, 1], genLength: 8, blockLength: 4, steps: 16, schedule: "uniform", maskId: 3, eosId: EOS });
  assert.deepEqual(res.outputIds, [0, 0, 2, 1, 2, 2, 2, 2]);
  const [b0, b1] = res.blocks;
  assert.deepEqual(b0.steps.map((s) => [s.committed, s.polish]), [[[4], false], [[5], false], [[6], false], [[7], true]]);
  assert.deepEqual([b0.endedBy, b0.stopStep, b1.endedBy, forwards], ["stop-rule", 3, "eos-skip", 4]);
});
