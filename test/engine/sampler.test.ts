import { test } from "node:test";
import assert from "node:assert/strict";
import { denoise, type DenoiseOptions } from "../../server/src/sampler/denoise";
import { idsBeforeEos } from "../../server/src/sampler/trace";
import { CancelledError } from "../../server/src/errors";
import type { StepDecision, StepView } from "../../server/src/stop/rule";
import type { ForwardRequest, ForwardResult } from "../../server/src/model/types";
import { FakeModel, FullRule, StopAtRule, type Preference } from "./fakes";

const VOCAB = 8;
const MASK = 7;
const EOS = 1;
// Prompt occupies positions 0-1; the block is positions 2-5.
// Confidence order by logit: pos3 (5) > pos5 (3) > pos2 = pos4 (2) (a tie: lower position first).
const PREFS = new Map<number, Preference>([
  [2, { token: 3, logit: 2 }],
  [3, { token: 4, logit: 5 }],
  [4, { token: 5, logit: 2 }],
  [5, { token: 6, logit: 3 }],
]);
const fixed = () => new FakeModel(VOCAB, () => PREFS);
const opts = (o: Partial<DenoiseOptions> = {}): DenoiseOptions => ({
  promptIds: [5, 6],
  genLength: 4,
  blockLength: 4,
  steps: 4,
  schedule: "uniform",
  maskId: MASK,
  eosId: EOS,
  ...o,
});

test("commits the most confident first, ties to the lower position", async () => {
  const rule = new FullRule();
  const run = await denoise(fixed(), rule, opts());
  const steps = run.blocks[0].steps;
  assert.deepEqual(steps.map((s) => s.committed), [[3], [5], [2], [4]]);
  assert.deepEqual(steps.map((s) => s.committedIds), [[4], [6], [3], [5]]);
  assert.deepEqual(run.outputIds, [3, 4, 5, 6]);
  assert.deepEqual(run.blocks[0].endedBy, "budget");
  assert.equal(run.blocks[0].stepsUsed, 4);
  // S_t grows by the previous step's commits; the rule sees x0 and float64 softmax confidence.
  assert.deepEqual(rule.views.map((v) => v.visible), [[], [3], [3, 5], [2, 3, 5]]);
  assert.deepEqual(rule.views[0].masked, [2, 3, 4, 5]);
  assert.deepEqual(rule.views[0].x0, [3, 4, 5, 6]);
  // One logit s among 8 zeros: p = e^s / (e^s + 7).
  const p = (s: number) => Math.exp(s) / (Math.exp(s) + 7);
  rule.views[0].confidence.forEach((c, i) => assert.ok(Math.abs(c - p([2, 5, 2, 3][i])) < 1e-12));
});

test("two per step with the uniform schedule", async () => {
  const run = await denoise(fixed(), new FullRule(), opts({ steps: 2 }));
  assert.deepEqual(run.blocks[0].steps.map((s) => s.committed), [[3, 5], [2, 4]]);
});

test("argmax ties resolve to the lowest id", async () => {
  const model = new FakeModel(VOCAB, () => new Map([[2, { token: 3, logit: 0 }]]));
  const rule = new FullRule();
  await denoise(model, rule, opts({ steps: 1 }));
  assert.deepEqual(rule.views[0].x0, [0, 0, 0, 0]);
});

test("stop with polish 0 fills every masked position with the argmax of that forward", async () => {
  const model = fixed();
  const run = await denoise(model, new StopAtRule(1, 0), opts());
  const b = run.blocks[0];
  assert.equal(model.calls, 1);
  assert.equal(b.stepsUsed, 1);
  assert.equal(b.stopStep, 1);
  assert.equal(b.endedBy, "stop-rule");
  assert.deepEqual(b.steps[0].committed, [2, 3, 4, 5]);
  assert.deepEqual(b.steps[0].early, [2, 4, 5]);
  assert.deepEqual(b.steps[0].kl, 0.5);
  assert.deepEqual([b.delta, b.omega], [0.1, 2]);
  assert.equal(b.certificate?.thm4, true);
  assert.deepEqual(run.outputIds, [3, 4, 5, 6]);
});

test("polish p > 0: the stop step commits as scheduled, then p forwards commit ceil(masked / (p - i))", async () => {
  const model = fixed();
  const run = await denoise(model, new StopAtRule(1, 2), opts());
  const b = run.blocks[0];
  assert.equal(model.calls, 3);
  assert.equal(b.stepsUsed, 3);
  assert.equal(b.stopStep, 1);
  assert.deepEqual(b.steps.map((s) => s.committed), [[3], [2, 5], [4]]);
  assert.deepEqual(b.steps.map((s) => s.polish), [false, true, true]);
  assert.deepEqual(b.steps.map((s) => s.step), [1, 2, 3]);
});

test("a stop with t + p >= T_b is ignored", async () => {
  for (const [at, p] of [[2, 2], [4, 0], [3, 1]]) {
    const run = await denoise(fixed(), new StopAtRule(at, p), opts());
    assert.equal(run.blocks[0].stopStep, null, `stop at ${at} with polish ${p}`);
    assert.equal(run.blocks[0].stepsUsed, 4);
    assert.equal(run.blocks[0].endedBy, "budget");
  }
});

test("early commits from the rule are added to the schedule's k and can end the block early", async () => {
  const run = await denoise(fixed(), new StopAtRule(99, 0, (s) => (s === 1 ? [4, 3] : [])), opts());
  const b = run.blocks[0];
  assert.deepEqual(b.steps.map((s) => s.committed), [[3, 4], [5], [2]]);
  assert.deepEqual(b.steps[0].early, [4]);
  assert.equal(b.endedBy, "all-committed");
  assert.equal(b.stepsUsed, 3);
});

test("EOS in a finished block skips the remaining blocks", async () => {
  const prefs = new Map(PREFS);
  prefs.set(4, { token: EOS, logit: 4 });
  const model = new FakeModel(VOCAB, () => prefs);
  const rule = new FullRule();
  const run = await denoise(model, rule, opts({ genLength: 8, blockLength: 4, steps: 4 }));
  assert.equal(model.calls, 2);
  assert.deepEqual(run.outputIds, [3, 4, EOS, 6, EOS, EOS, EOS, EOS]);
  assert.equal(run.blocks[1].endedBy, "eos-skip");
  assert.equal(run.blocks[1].stepsUsed, 0);
  assert.deepEqual(idsBeforeEos(run.outputIds, EOS), [3, 4]);
  assert.equal(rule.blocks[0].maskedFraction, 1);
});

test("maskedFraction counts the generation region's masks at block start", async () => {
  const rule = new FullRule();
  await denoise(fixed(), rule, opts({ genLength: 8, blockLength: 4, steps: 4 }));
  assert.deepEqual(rule.blocks.map((b) => b.maskedFraction), [1, 0.5]);
});

test("cancellation between steps throws CancelledError promptly; the next run works", async () => {
  const ac = new AbortController();
  const model = new FakeModel(VOCAB, () => PREFS, (call) => {
    if (call === 1) ac.abort();
  });
  await assert.rejects(denoise(model, new FullRule(), opts({ signal: ac.signal })), CancelledError);
  assert.equal(model.calls, 2);
  const run = await denoise(model, new FullRule(), opts());
  assert.deepEqual(run.outputIds, [3, 4, 5, 6]);
});

test("onStep streams every step with its block and budget", async () => {
  const events: [number, number, number][] = [];
  await denoise(fixed(), new FullRule(), opts({ genLength: 8, steps: 4, onStep: (e) => events.push([e.block, e.blockBudget, e.step.step]) }));
  assert.deepEqual(events, [[0, 2, 1], [0, 2, 2], [1, 2, 1], [1, 2, 2]]);
});

test("temperature > 0 is reproducible for a seed; confidence stays the noise-free softmax", async () => {
  const a = new FullRule();
  const b = new FullRule();
  const r1 = await denoise(fixed(), a, opts({ temperature: 1, seed: 7 }));
  const r2 = await denoise(fixed(), b, opts({ temperature: 1, seed: 7 }));
  assert.deepEqual(r1.outputIds, r2.outputIds);
  assert.deepEqual(a.views, b.views);
  // Confidence is p(x0) under the plain softmax: e^s/(e^s+7) when x0 is the preferred token, 1/(e^s+7) otherwise.
  const v = a.views[0];
  v.x0.forEach((x, i) => {
    const pos = v.masked[i];
    const pref = PREFS.get(pos)!;
    const want = x === pref.token ? Math.exp(pref.logit) / (Math.exp(pref.logit) + 7) : 1 / (Math.exp(pref.logit) + 7);
    assert.ok(Math.abs(v.confidence[i] - want) < 1e-12);
  });
});

/** A rule that answers each step with a scripted decision (issue 21: commitOnly / remask). */
class ScriptedRule extends FullRule {
  override readonly name = "scripted";
  constructor(
    private readonly script: (step: number) => Partial<StepDecision>,
    readonly wantsRowsToEnd = false,
  ) {
    super();
  }
  override observe(v: StepView): StepDecision {
    super.observe(v);
    return { stop: false, ...this.script(v.step) };
  }
}

test("commitOnly: exactly the rule's set, no schedule on top; empty -> the schedule's top-k, at least one", async () => {
  // steps 4, block 4: k_t = 1. Step 1: the set {2, 4} (not the most confident 3) -> exactly 2 and 4.
  // Step 2: empty set -> top-1 by confidence (3). Step 3: a position already committed is ignored -> top-1 (5).
  const rule = new ScriptedRule((t) => ({ commitOnly: t === 1 ? [2, 4] : t === 3 ? [4] : [] }));
  const run = await denoise(fixed(), rule, opts());
  assert.deepEqual(run.blocks[0].steps.map((s) => s.committed), [[2, 4], [3], [5]]);
  assert.deepEqual(run.blocks[0].steps.map((s) => s.early), [[2, 4], [], []]);
  assert.equal(run.blocks[0].endedBy, "all-committed");
  // With a schedule that gives k_t = 0 at a step, an empty set still commits one token.
  const zero = await denoise(fixed(), new ScriptedRule(() => ({ commitOnly: [] })), opts({ steps: 8, genLength: 4, blockLength: 4 }));
  assert.ok(zero.blocks[0].steps.every((s) => s.committed.length >= 1));
});

test("remask: a token committed earlier in the block is masked again (never prompt tokens, never on the last step)", async () => {
  // Step 1 commits 3 (top-1). Step 2 commits 5 and masks 3 again, and asks to remask 0 (prompt) and 2 (never committed).
  // Step 3 commits 3 again (top-1 of {2, 3, 4}); step 4 (last) commits the rest and ignores its remask.
  const rule = new ScriptedRule((t) => (t === 2 ? { remask: [0, 2, 3] } : t === 4 ? { remask: [3, 5] } : {}));
  const run = await denoise(fixed(), rule, opts());
  const steps = run.blocks[0].steps;
  assert.deepEqual(steps.map((s) => s.committed), [[3], [5], [3], [2, 4]]);
  assert.deepEqual(steps.map((s) => s.remasked ?? []), [[], [3], [], []]);
  assert.deepEqual(rule.views.map((v) => v.masked), [[2, 3, 4, 5], [2, 4, 5], [2, 3, 4], [2, 4]]);
  assert.deepEqual(run.outputIds, [3, 4, 5, 6]);
});

test("wantsRowsToEnd: the forward is asked for every row from the block to the end of the generation", async () => {
  const wants: { start: number; end: number }[] = [];
  const model = new (class extends FakeModel {
    override async forward(ids: Int32Array, req?: ForwardRequest): Promise<ForwardResult> {
      if (req?.want) wants.push(req.want);
      return super.forward(ids);
    }
  })(VOCAB, () => PREFS);
  await denoise(model, new ScriptedRule(() => ({}), true), opts({ genLength: 4, blockLength: 2, steps: 4 }));
  assert.deepEqual(wants, [{ start: 2, end: 6 }, { start: 2, end: 6 }, { start: 4, end: 6 }, { start: 4, end: 6 }]);
});
