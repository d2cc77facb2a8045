import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCursorParams, parseGenerateParams, parseSettings } from "../../server/src/daemon/validate";
import { InvalidParamsError } from "../../server/src/daemon/errors";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InvalidParamsError);
    return e.field;
  }
  throw new Error("expected an InvalidParamsError");
}

test("edit/generate params: valid ones pass through, each bad field is named", () => {
  assert.deepEqual(parseGenerateParams({ prompt: "1+1", stop: "edit", params: { tau: 1, polish: true }, task: "arith", workDoneToken: "t" }), {
    prompt: "1+1",
    stop: "edit",
    params: { tau: 1, polish: true },
    task: "arith",
  });
  assert.equal(fieldOf(() => parseGenerateParams(null)), "params");
  assert.equal(fieldOf(() => parseGenerateParams([])), "params");
  assert.equal(fieldOf(() => parseGenerateParams({})), "prompt");
  assert.equal(fieldOf(() => parseGenerateParams({ prompt: 1 })), "prompt");
  assert.equal(fieldOf(() => parseGenerateParams({ prompt: "", stop: "" })), "stop");
  assert.equal(fieldOf(() => parseGenerateParams({ prompt: "", params: { tau: NaN } })), "params.tau");
  assert.equal(fieldOf(() => parseGenerateParams({ prompt: "", params: "tau=1" })), "params");
  assert.equal(fieldOf(() => parseGenerateParams({ prompt: "", task: 3 })), "task");
});

test("inline completion cursor params: uri and non-negative integer position", () => {
  assert.deepEqual(parseCursorParams({ textDocument: { uri: "file:///a" }, position: { line: 2, character: 0 } }), { uri: "file:///a", line: 2, character: 0 });
  assert.equal(fieldOf(() => parseCursorParams({ position: { line: 0, character: 0 } })), "textDocument");
  assert.equal(fieldOf(() => parseCursorParams({ textDocument: { uri: 5 }, position: { line: 0, character: 0 } })), "textDocument.uri");
  assert.equal(fieldOf(() => parseCursorParams({ textDocument: { uri: "u" } })), "position");
  assert.equal(fieldOf(() => parseCursorParams({ textDocument: { uri: "u" }, position: { line: 1.5, character: 0 } })), "position.line");
  assert.equal(fieldOf(() => parseCursorParams({ textDocument: { uri: "u" }, position: { line: 1, character: -1 } })), "position.character");
});

test("settings: the section or {edit: section}; bad fields are dropped and named", () => {
  assert.deepEqual(parseSettings({ edit: { stopRule: "edit", steps: 16 } }), { settings: { stopRule: "edit", steps: 16 }, problems: [] });
  assert.deepEqual(parseSettings({ bundlePath: "/b", executionProvider: "cpu" }), { settings: { bundlePath: "/b", executionProvider: "cpu" }, problems: [] });
  const bad = parseSettings({ edit: { steps: 0, executionProvider: "tpu", stopParams: { tau: "x", k: [1] }, genLength: 32 } });
  assert.deepEqual(bad.settings, { genLength: 32 });
  assert.equal(bad.problems.length, 3);
  assert.match(bad.problems.join("\n"), /edit\.executionProvider/);
  assert.match(bad.problems.join("\n"), /stopParams\.k/);
  assert.match(bad.problems.join("\n"), /edit\.steps/);
  assert.deepEqual(parseSettings(null), { settings: {}, problems: [] });
});

test("settings: threads (positive integer) and cache mode", () => {
  assert.deepEqual(parseSettings({ edit: { threads: 2, cache: "dual" } }), { settings: { threads: 2, cache: "dual" }, problems: [] });
  const bad = parseSettings({ edit: { threads: 1.5, cache: "all" } });
  assert.deepEqual(bad.settings, {});
  assert.equal(bad.problems.length, 2);
  assert.match(bad.problems.join("\n"), /edit\.threads/);
  assert.match(bad.problems.join("\n"), /edit\.cache.*"none", "prefix" or "dual"/);
});
