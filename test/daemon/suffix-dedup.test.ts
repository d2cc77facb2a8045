/**
 * Suffix de-duplication on the cases Continue had to fix (closing brackets the editor auto-inserted,
 * the rest of a line the user already typed). Expected strings are written out by hand.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dedupSuffix, lineSuffix } from "../../server/src/daemon/suffix-dedup";

test("an auto-closed bracket after the cursor is not repeated", () => {
  // print(|)  + "x)" -> print(x)
  assert.equal(dedupSuffix("x)", ")\n"), "x");
  // foo(|])  + "a, b])" -> foo(a, b])
  assert.equal(dedupSuffix("a, b])", "])"), "a, b");
  // {"key": |}  + "1}" -> {"key": 1}
  assert.equal(dedupSuffix("1}", "}"), "1");
});

test("closing quotes are trimmed like brackets", () => {
  assert.equal(dedupSuffix('hello")', '")'), "hello");
  assert.equal(dedupSuffix("abc'", "'"), "abc");
});

test("the rest of the line already typed is not shown again", () => {
  // return |value  + "value" -> nothing left to show
  assert.equal(dedupSuffix("value", "value\nnext line"), "");
  // x = |compute(a)  + "compute(a)" -> nothing
  assert.equal(dedupSuffix("compute(a)", "compute(a)"), "");
  // x = |(a)  + "compute(a)" -> "compute"
  assert.equal(dedupSuffix("compute(a)", "(a)"), "compute");
});

test("only the completion's last line is compared with the rest of the cursor's line", () => {
  assert.equal(dedupSuffix("if x:\n    f(x)", ")"), "if x:\n    f(x");
  // A newline right after the cursor: the rest of the line is empty, nothing to trim.
  assert.equal(dedupSuffix("f(x)", "\n)"), "f(x)");
});

test("a one-letter overlap that is not a closer is left alone", () => {
  // "fo" + "o bar" could be meant either way; only closers are trimmed at length 1.
  assert.equal(dedupSuffix("foo", "o bar"), "foo");
  // Two characters or more are a real overlap.
  assert.equal(dedupSuffix("foo ba", "ba"), "foo ");
});

test("whitespace between the cursor and the duplicated closer", () => {
  // f(a, |  )  + "b )" -> "b" (the space before ")" is already in the document)
  assert.equal(dedupSuffix("b )", " )"), "b");
  // No leading space in the rest: the completion keeps its own spacing.
  assert.equal(dedupSuffix("b )", ")"), "b ");
});

test("no rest of line, or an empty completion: unchanged", () => {
  assert.equal(dedupSuffix("abc)", ""), "abc)");
  assert.equal(dedupSuffix("abc)", "   \nfoo)"), "abc)");
  assert.equal(dedupSuffix("", ")"), "");
});

test("lineSuffix stops at the first line break (LF or CRLF)", () => {
  assert.equal(lineSuffix("ab)\r\ncd"), "ab)");
  assert.equal(lineSuffix("ab)\ncd"), "ab)");
  assert.equal(lineSuffix("ab)"), "ab)");
});
