/**
 * D_t recomputed offline from recorded S_t and Sim_s: equals the reference's D_t on the golden traces,
 * a hand computation, and the engine's own EditRule at another tau; Alg. 1 replay and the schedule's
 * earliest possible stop step.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GenerationTrace } from "../../protocol/trace";
import { loadEngine } from "../../server/src/engine";
import type { Engine } from "../../server/src/engine-types";
import { earliestStopStep, firstDefinedStep, recomputeKl, runLengthStop } from "../../research/src/eval/dt";

const FIXTURES = join(__dirname, "..", "fixtures");
const GOLDEN = join(FIXTURES, "golden", "micro-bundle");
const near = (a: number | null, b: number | null, what: string) => {
  if (b === null) return assert.equal(a, null, what);
  assert.ok(a !== null && Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a} vs ${b}`);
};

test("hand-computed D_t: P1 = [1/3, 2/3], P2 restricted to I = [1/2, 1/2] -> KL = 0.5 ln(9/8)", () => {
  const kls = recomputeKl(
    [
      { visible: [], sims: [] },
      { visible: [10, 11], sims: [0, Math.LN2] },
      { visible: [10, 11, 12], sims: [0, 0, Math.LN2] },
      { visible: [10, 11, 12, 13], sims: [0, 0, Math.LN2, 0] },
    ],
    1,
  );
  assert.equal(kls[0], null);
  assert.equal(kls[1], null); // I_2 = {} (S_1 empty)
  near(kls[2], 0.5 * Math.log(9 / 8), "D_3");
  near(kls[3], 0, "D_4 (same P on I)");
  // tau halves the temperature: sims/tau = [0, 2 ln 2] -> P1 = [1/5, 4/5]; KL([1/2,1/2] || [1/5,4/5]).
  const half = recomputeKl(
    [
      { visible: [10, 11], sims: [0, Math.LN2] },
      { visible: [10, 11, 12], sims: [0, 0, Math.LN2] },
    ],
    0.5,
  );
  near(half[1], 0.5 * Math.log(0.5 / 0.2) + 0.5 * Math.log(0.5 / 0.8), "D at tau 0.5");
});

interface Golden {
  rule: string;
  params: Record<string, number>;
  trace: GenerationTrace;
}
const goldens = existsSync(GOLDEN)
  ? readdirSync(GOLDEN)
      .filter((f) => f.endsWith(".json"))
      .map((f) => ({ f, g: JSON.parse(readFileSync(join(GOLDEN, f), "utf8")) as Golden }))
      .filter(({ g }) => g.rule === "edit")
  : [];

test("golden edit traces exist", { skip: goldens.length === 0 && "no golden fixtures" }, () => assert.ok(goldens.length > 0));

for (const { f, g } of goldens) {
  test(`golden ${f}: D_t recomputed from the recorded sims equals the rule's D_t; Alg. 1 replay gives its stop`, () => {
    const p = { tau: 1, deltaFirst: 0.05, omegaFirst: 6, deltaLater: 0.1, omegaLater: 6, polishSteps: 0, ...g.params };
    for (const b of g.trace.blocks) {
      const steps = b.steps.filter((s) => !s.polish);
      if (steps.length === 0) continue;
      const kls = recomputeKl(steps.map((s) => ({ visible: s.visible, sims: s.sims! })), p.tau);
      steps.forEach((s, i) => near(kls[i], s.kl, `block ${b.index} step ${s.step}`));
      const first = b.index === 0;
      const stop = runLengthStop(kls, first ? p.deltaFirst : p.deltaLater, first ? p.omegaFirst : p.omegaLater, b.budget, p.polishSteps);
      assert.equal(stop, b.stopStep, `block ${b.index} stop`);
    }
  });
}

test("first defined step and earliest possible stop from the schedule", () => {
  const two = Array(16).fill(2);
  assert.equal(firstDefinedStep(two, 2), 3); // |I_3| = |S_2| = 2
  assert.equal(firstDefinedStep(two, 1), 3);
  const one = Array(32).fill(1);
  assert.equal(firstDefinedStep(one, 2), 4); // |S_3| = 2
  assert.equal(firstDefinedStep(one, 1), 3);
  assert.equal(earliestStopStep(two, 2, 4, 0), 6); // Omega + 3 - 1
  assert.equal(earliestStopStep(two, 2, 12, 2), null); // 14 + 2 polish = 16: no saving
  assert.equal(earliestStopStep(two, 2, 11, 2), 13);
  assert.equal(earliestStopStep(two, 2, 13, 0), 15);
  assert.equal(earliestStopStep(two, 2, 14, 0), null); // 16 is the budget: no saving
});

test("runLengthStop: undefined D_t resets the run; the stop must save forwards", () => {
  assert.equal(runLengthStop([null, null, 0.01, 0.01, null, 0.01, 0.01, 0.01], 0.05, 2, 16, 0), 4);
  assert.equal(runLengthStop([null, 0.01, 0.2, 0.01, 0.01], 0.05, 2, 16, 0), 5);
  assert.equal(runLengthStop([null, 0.01, 0.01, 0.01], 0.05, 2, 4, 1), null); // t=3: 3 + 1 >= 4
});

const micro = join(FIXTURES, "micro-bundle");
let engine: Engine | null = null;
after(async () => engine?.dispose());

test("D_t at tau = 0.1 recomputed from a tau = 1 run equals EditRule run at tau = 0.1 (micro bundle)", { skip: !existsSync(micro) && "no micro bundle" }, async () => {
  const e: Engine = await loadEngine({ bundleDir: micro, provider: "cpu", threads: 1 });
  engine = e;
  const never = { omegaFirst: 1e9, omegaLater: 1e9, polishSteps: 0 };
  for (const prompt of ["788+788-212", "561+464+912"]) {
    const t1: GenerationTrace = (await e.generate({ prompt, task: "arith", stop: "edit", params: { ...never, tau: 1 } })).trace;
    const t01: GenerationTrace = (await e.generate({ prompt, task: "arith", stop: "edit", params: { ...never, tau: 0.1 } })).trace;
    assert.deepEqual(t01.outputIds, t1.outputIds, "the trajectory does not depend on tau before a stop");
    for (const [bi, b] of t1.blocks.entries()) {
      const kls = recomputeKl(b.steps.map((s) => ({ visible: s.visible, sims: s.sims! })), 0.1);
      t01.blocks[bi].steps.forEach((s, i) => near(kls[i], s.kl, `block ${bi} step ${s.step}`));
    }
  }
});
