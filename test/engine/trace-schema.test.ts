import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { denoise } from "../../server/src/sampler/denoise";
import { buildTrace } from "../../server/src/sampler/trace";
import { FakeModel, StopAtRule } from "./fakes";
import { assertValidTrace } from "./trace-schema";

test("committed trace fixtures match the schema", () => {
  const dir = join(__dirname, "..", "fixtures", "traces");
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
    assertValidTrace(JSON.parse(readFileSync(join(dir, f), "utf8")), f);
  }
});

test("a trace with stops, polish steps and certificates matches the schema", async () => {
  const model = new FakeModel(8, () => new Map([[2, { token: 3, logit: 2 }], [3, { token: 4, logit: 5 }]]));
  const run = await denoise(model, new StopAtRule(1, 1), {
    promptIds: [5, 6], genLength: 8, blockLength: 4, steps: 8, schedule: "uniform", maskId: 7, eosId: 1,
  });
  const trace = buildTrace(
    { bundle: "b", provider: "fake", rule: "stop-at", params: { a: 1, b: "x", c: true }, task: null, promptIds: [5, 6], genLength: 8, blockLength: 4, steps: 8 },
    run, "text", 1.5,
  );
  assert.equal(trace.totals.certifiedFraction, 1);
  assert.equal(trace.totals.forwards, 4);
  assertValidTrace(trace);
  const broken = JSON.parse(JSON.stringify(trace));
  broken.blocks[0].endedBy = "tired";
  assert.throws(() => assertValidTrace(broken));
});
