import { test } from "node:test";
import assert from "node:assert/strict";
import { anchoredWindowStart, codeTaskAnswer, codeTaskPrompt, documentWindow } from "../../server/src/daemon/inline-prompt";

// Expected prompts written by hand from training/edit_dllm/tasks/code.py:
// prompt = prev.strip()[-room:] + "\n" + cur.lstrip(), room = 48 - len(cur) - 1.
test("code-task prompt: previous line tail + newline + current line, indentation stripped", () => {
  assert.equal(codeTaskPrompt("def f(x):\n    y = 1\n    if foo("), "y = 1\nif foo(");
  assert.equal(codeTaskPrompt("import o"), "\nimport o");
  assert.equal(codeTaskPrompt("\n  abc"), "\nabc");
  assert.equal(codeTaskPrompt("x = 1\n"), "x = 1\n");
});

test("code-task prompt: at most 48 characters, the previous line cut from the left", () => {
  const prev = "p".repeat(50) + "END";
  const got = codeTaskPrompt(prev + "\n\tabc");
  // room = 48 - 3 - 1 = 44 -> the last 44 characters of the previous line.
  assert.equal(got, ("p".repeat(50) + "END").slice(-44) + "\nabc");
  assert.equal(got.length, 48);
  const long = "q".repeat(60);
  assert.equal(codeTaskPrompt("prev\n" + long), "\n" + "q".repeat(47));
});

test("code-task answer: the generated text up to the first newline", () => {
  assert.equal(codeTaskAnswer("x + 1)\nreturn"), "x + 1)");
  assert.equal(codeTaskAnswer("abc"), "abc");
  assert.equal(codeTaskAnswer(""), "");
});

test("document window: the suffix within its share, cut at a line end; the prefix takes the rest", () => {
  const before = "a".repeat(100);
  const after = "line1\nline2\nline3";
  // share 0.25 of 40 = 10 characters: "line1\nline" -> cut after the newline = "line1\n" (6); prefix 34.
  assert.deepEqual(documentWindow(before, after, { maxChars: 40, suffixShare: 0.25 }), { prefix: "a".repeat(34), suffix: "line1\n" });
  // The whole suffix fits: no cut.
  assert.deepEqual(documentWindow("xy", "z", { maxChars: 40, suffixShare: 0.5 }), { prefix: "xy", suffix: "z" });
  assert.equal(documentWindow(before, after, { maxChars: 40, suffixShare: 0 }).prefix.length, 40);
  assert.throws(() => documentWindow("", "", { maxChars: 0, suffixShare: 0.5 }), /maxChars/);
});

test("anchored window start: moves in anchor steps, keeps between window - anchor and window characters", () => {
  assert.equal(anchoredWindowStart(50, 100, 16), 0);
  assert.equal(anchoredWindowStart(100, 100, 16), 0);
  // cursor 101: 1 character over -> the start moves by one whole anchor (16); 85 characters remain.
  assert.equal(anchoredWindowStart(101, 100, 16), 16);
  assert.equal(anchoredWindowStart(116, 100, 16), 16);
  assert.equal(anchoredWindowStart(117, 100, 16), 32);
  assert.throws(() => anchoredWindowStart(10, 8, 16), /anchor <= window/);
});
