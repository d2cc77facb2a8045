/**
 * Parity with the PyTorch reference (training/edit_dllm/sampler_rules.py) without a model: the golden
 * traces record, per step, S_t and the reference's Sim_s; feeding those sims to EditRule through an
 * injected similarity must reproduce the reference's D_t, counter, margin, stop step and certificate.
 * (Eq 6-8, Alg. 1, Eq 18/20/24 on real data; the similarity itself is covered by edit.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { GenerationTrace } from "../../protocol/trace";
import { EditRule, type SimilarityKernel } from "../../server/src/stop/edit";
import type { StepView } from "../../server/src/stop/rule";

const dir = join(__dirname, "..", "fixtures", "golden", "micro-bundle");
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];

interface Golden {
  rule: string;
  params: Record<string, number>;
  trace: GenerationTrace;
}

const near = (a: number | null | undefined, b: number | null, what: string) => {
  if (b === null) return assert.equal(a ?? null, null, what);
  assert.ok(typeof a === "number" && Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a} != ${b}`);
};

for (const file of files) {
  const golden = JSON.parse(readFileSync(join(dir, file), "utf8")) as Golden;
  if (golden.rule !== "edit" && golden.rule !== "edit-subspace") continue;
  test(`golden replay ${file}: D_t, counter, margin, stop and certificate match the reference`, () => {
    const { trace } = golden;
    const p = { tau: 1, deltaFirst: 0.05, omegaFirst: 6, deltaLater: 0.1, omegaLater: 6, polishSteps: 0, ...golden.params };
    const seqLen = trace.promptIds.length + trace.genLength;
    const table = new Map<number, number>();
    const kernel: SimilarityKernel = { module: "replay", dim: 1, sim: (_d, off) => table.get(off)! };
    const cert = trace.blocks.find((b) => b.certificate)?.certificate;
    const rule = new EditRule("edit", p, kernel, cert ? { alphaHat: cert.alphaHat, q: cert.q } : null);
    let replayed = 0;
    for (const b of trace.blocks) {
      if (b.steps.length === 0) continue;
      rule.beginBlock({ index: b.index, start: b.start, end: b.end, budget: b.budget, maskedFraction: 1 });
      let stopAt: number | null = null;
      for (const s of b.steps) {
        if (s.polish) continue;
        table.clear();
        s.visible.forEach((pos, i) => table.set(pos, s.sims![i]));
        const masked: number[] = [];
        for (let q = b.start; q < b.end; q++) if (!s.visible.includes(q)) masked.push(q);
        const view: StepView = {
          step: s.step,
          ids: new Int32Array(seqLen),
          maskId: -1,
          seqLen,
          vocab: 1,
          rowStart: 0,
          logits: new Float32Array(seqLen),
          activations: new Map([["replay", { data: new Float32Array(seqLen), dim: 1 }]]),
          visible: s.visible,
          masked,
          x0: new Int32Array(masked.length),
          confidence: new Float64Array(masked.length),
        };
        const d = rule.observe(view);
        near(d.kl, s.kl, `${file} block ${b.index} step ${s.step} kl`);
        near(d.margin, s.margin, `${file} block ${b.index} step ${s.step} margin`);
        assert.equal(d.counter, s.counter, `${file} block ${b.index} step ${s.step} counter`);
        if (d.stop && stopAt === null) stopAt = s.step;
        replayed++;
      }
      assert.equal(stopAt, b.stopStep, `${file} block ${b.index} stop step`);
      assert.deepEqual(rule.blockThresholds(), { delta: b.delta, omega: b.omega });
      if (b.certificate) {
        const c = rule.certificate()!;
        assert.deepEqual([c.thm2, c.thm4, c.cor6, c.delta, c.omega], [b.certificate.thm2, b.certificate.thm4, b.certificate.cor6, b.certificate.delta, b.certificate.omega]);
        near(c.margin, b.certificate.margin, `${file} block ${b.index} certificate margin`);
      }
    }
    assert.ok(replayed > 0);
  });
}
