/** Rule lookup, composition, parameter parsing and defaults; full and fixed. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStopRule, listStopRules } from "../../server/src/stop/registry";
import { StopRuleParamError, UnknownStopRuleError } from "../../server/src/stop/errors";
import { PROBE, block, ctx2d, view } from "./view";

const ALL = ["full", "fixed", "edit", "edit-released", "edit-subspace", "edit-token", "jot", "confidence", "stable-confident", "sched", "less", "klass", "eb-sampler", "edit-cos", "prophet", "wino", "credit-decoding", "dus", "learned"];

test("listStopRules names every rule with typed params and defaults", () => {
  const list = listStopRules();
  assert.deepEqual(list.map((r) => r.name), ALL);
  const edit = list.find((r) => r.name === "edit")!;
  assert.deepEqual(
    edit.params.map((p) => [p.name, p.default]),
    [["tau", 1], ["deltaFirst", 0.05], ["omegaFirst", 6], ["deltaLater", 0.1], ["omegaLater", 6], ["polishSteps", 0], ["probe", ""]],
  );
  assert.equal(edit.params[0].accepted, "a number in (0, +inf)");
  assert.equal(list.find((r) => r.name === "edit-released")!.params.find((p) => p.name === "polishSteps")!.default, 2);
  assert.deepEqual(list.filter((r) => r.role === "commit").map((r) => r.name), ["edit-token", "jot", "confidence", "less", "klass", "eb-sampler", "edit-cos", "wino", "credit-decoding", "dus", "learned"]);
});

test("unknown rules and bad compositions are typed errors listing the known names", () => {
  assert.throws(
    () => createStopRule("edti", {}, ctx2d()),
    (e: unknown) => e instanceof UnknownStopRuleError && e.known.join() === ALL.join() && /edit-released/.test(e.message),
  );
  assert.throws(() => createStopRule("edit+foo", {}, ctx2d()), /unknown stop rule "foo" in "edit\+foo"/);
  assert.throws(() => createStopRule("confidence+edit", {}, ctx2d()), UnknownStopRuleError);
  assert.throws(() => createStopRule("edit+edit-subspace", {}, ctx2d()), UnknownStopRuleError);
  assert.throws(() => createStopRule("edit+confidence+confidence", {}, ctx2d()), /twice/);
});

test("params: range, integer, type and unknown-name errors name the rule, the param and the range", () => {
  const err = (spec: string, params: Record<string, number | string | boolean>, param: string, accepted: RegExp) =>
    assert.throws(
      () => createStopRule(spec, params, ctx2d()),
      (e: unknown) => e instanceof StopRuleParamError && e.param === param && accepted.test(e.accepted) && e.message.includes(`"${e.rule}"`),
    );
  err("edit", { tau: 0 }, "tau", /^a number in \(0, \+inf\)$/);
  err("edit", { omegaFirst: 2.5 }, "omegaFirst", /^an integer in \[1, \+inf\)$/);
  err("edit", { deltaLater: "small" }, "deltaLater", /number/);
  err("edit", { polishSteps: -1 }, "polishSteps", /\[0, \+inf\)/);
  err("confidence", { threshold: 1.5 }, "threshold", /^a number in \[0, 1\]$/);
  err("jot", { gamma: 0 }, "gamma", /^a number in \(0, 1\]$/);
  err("edit", { delta: 0.1 }, "delta", /tau, deltaFirst/);
  err("full", { n: 3 }, "n", /no parameters/);
  err("edit+confidence", { window: 3 }, "window", /threshold/);
  err("edit", { probe: 3 }, "probe", /string/);
});

test("ctx.defaults merge under user params; defaults the rule does not take are dropped", () => {
  const c = ctx2d({ defaults: { deltaFirst: 0.3, omegaFirst: 4, deltaLater: 0.2, tau: 1, polishSteps: 1 } });
  const edit = createStopRule("edit", { omegaFirst: 5 }, c);
  edit.beginBlock(block(0, 4, 8, 8));
  assert.deepEqual(edit.blockThresholds(), { delta: 0.3, omega: 5 });
  assert.equal(edit.polishSteps, 1);
  const jot = createStopRule("jot", {}, c); // no error for edit's defaults
  assert.equal(jot.name, "jot");
});

test("a variant switch among the defaults (union) reaches only the rules of the task's own spec", () => {
  // Sudoku's calibrated rule is jot+eb-sampler with union=true: eb-sampler asked for there runs the
  // union variant (commitEarly); on a task calibrated for jot alone it runs as published (commitOnly).
  const defaults = { gamma: 0.3, union: true, tauMax: 10 };
  const v = () => view({ step: 1, seqLen: 8, block: [4, 8], visible: [], confidence: [0.9, 0.5, 0.5, 0.5] });
  const kind = (spec: string, defaultsSpec: string | undefined) => {
    const r = createStopRule(spec, {}, { ...ctx2d({ defaults }), ...(defaultsSpec ? { defaultsSpec } : {}) });
    r.beginBlock(block(0, 4, 8, 4));
    const d = r.observe(v());
    return d.commitOnly ? "only" : d.commitEarly ? "union" : "none";
  };
  assert.equal(kind("eb-sampler", "jot+eb-sampler"), "union");
  assert.equal(kind("eb-sampler", "jot"), "only");
  assert.equal(kind("eb-sampler", undefined), "union", "without defaultsSpec the chosen rule counts as calibrated (earlier behaviour)");
  assert.equal(kind("eb-sampler", "no-such-rule"), "only");
  // A user's union still wins either way.
  const r = createStopRule("eb-sampler", { union: true }, { ...ctx2d({ defaults }), defaultsSpec: "jot" });
  r.beginBlock(block(0, 4, 8, 4));
  assert.ok(r.observe(v()).commitEarly);
});

test("composition: stop, trace fields, thresholds from the stop rule; commitEarly = union of the commit rules", () => {
  const rule = createStopRule("edit+confidence", { deltaFirst: 1, omegaFirst: 1, threshold: 0.5 }, ctx2d());
  assert.equal(rule.name, "edit+confidence");
  assert.equal(rule.polishSteps, 0);
  rule.beginBlock(block(0, 4, 8, 8));
  const acts = { [PROBE]: { dim: 2, rows: { 4: [1, 0], 5: [0, 1] } } };
  const d1 = rule.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4, 5], acts, confidence: [0.6, 0.4] }));
  assert.deepEqual([d1.stop, d1.commitEarly, d1.sims, d1.kl, d1.counter], [false, [6], [1, 0], null, 0]);
  const d2 = rule.observe(view({ step: 2, seqLen: 8, block: [4, 8], visible: [4, 5], acts, confidence: [0.7, 0.8] }));
  assert.deepEqual([d2.stop, d2.commitEarly, d2.kl, d2.counter], [true, [6, 7], 0, 1]);
  assert.deepEqual(rule.blockThresholds(), { delta: 1, omega: 1 });
  assert.equal(rule.certificate!()!.omega, 1);

  // three parts: confidence commits 6, jot (tauMin = tauMax = 0: r >= 0 always) commits 6 and 7
  const three = createStopRule("full+jot+confidence", { tauMin: 0, tauMax: 0 }, ctx2d());
  three.beginBlock(block(0, 4, 8, 8));
  const d = three.observe(view({ step: 1, seqLen: 8, block: [4, 8], visible: [4, 5], confidence: [0.95, 0.1] }));
  assert.deepEqual([d.stop, d.commitEarly], [false, [6, 7]]);
  assert.equal(three.blockThresholds(), null);
});

test("full never stops; fixed stops at step n unless n + polishSteps >= T_b", () => {
  const v = (t: number) => view({ step: t, seqLen: 8, block: [4, 8], visible: [] });
  const full = createStopRule("full", {}, ctx2d());
  full.beginBlock(block(0, 4, 8, 4));
  assert.deepEqual([1, 2, 3, 4].map((t) => full.observe(v(t)).stop), [false, false, false, false]);

  const fixed = createStopRule("fixed", { n: 3 }, ctx2d());
  fixed.beginBlock(block(0, 4, 8, 8));
  assert.deepEqual([1, 2, 3, 4].map((t) => fixed.observe(v(t)).stop), [false, false, true, false]);
  fixed.beginBlock(block(1, 4, 8, 3));
  assert.deepEqual([1, 2, 3].map((t) => fixed.observe(v(t)).stop), [false, false, false], "n = T_b saves nothing");

  const polished = createStopRule("fixed", { n: 3, polishSteps: 5 }, ctx2d());
  polished.beginBlock(block(0, 4, 8, 8));
  assert.deepEqual([1, 2, 3, 4, 5].map((t) => polished.observe(v(t)).stop), [false, false, false, false, false]);
  assert.equal(polished.polishSteps, 5);
});
