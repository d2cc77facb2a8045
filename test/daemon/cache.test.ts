import { test } from "node:test";
import assert from "node:assert/strict";
import { CompletionCache } from "../../server/src/daemon/cache";

const S = "settings-A";

test("exact hit returns the cached completion; a different suffix or settings misses", () => {
  const c = new CompletionCache(4, 16);
  c.set({ prefix: "def f(", suffix: "", settings: S }, "x):");
  assert.deepEqual(c.get({ prefix: "def f(", suffix: "", settings: S }), { kind: "exact", text: "x):" });
  assert.equal(c.get({ prefix: "def f(", suffix: ")", settings: S }), null);
  assert.equal(c.get({ prefix: "def f(", suffix: "", settings: "settings-B" }), null);
});

test("typed-along: typing the first characters of a completion serves the rest", () => {
  const c = new CompletionCache(4, 16);
  c.set({ prefix: "def f(", suffix: "", settings: S }, "x, y):");
  assert.deepEqual(c.get({ prefix: "def f(x", suffix: "", settings: S }), { kind: "typed-along", text: ", y):" });
  assert.deepEqual(c.get({ prefix: "def f(x, y", suffix: "", settings: S }), { kind: "typed-along", text: "):" });
  // Typed something else: not a continuation.
  assert.equal(c.get({ prefix: "def f(z", suffix: "", settings: S }), null);
  // The whole completion typed: nothing left to serve, so a miss.
  assert.equal(c.get({ prefix: "def f(x, y):", suffix: "", settings: S }), null);
});

test("typed-along works when the prefix window slides (window of 8 characters)", () => {
  const c = new CompletionCache(4, 8);
  // Document "abcdefghij" -> window "cdefghij"; the user then types "kl" of the completion "klmn".
  c.set({ prefix: "cdefghij", suffix: "", settings: S }, "klmn");
  assert.deepEqual(c.get({ prefix: "efghijkl", suffix: "", settings: S }), { kind: "typed-along", text: "mn" });
  // Without the slide the same characters do not match.
  assert.equal(c.get({ prefix: "cdefghijkl", suffix: "", settings: S }), null);
});

test("least recently used entry is evicted first; a hit refreshes an entry", () => {
  const c = new CompletionCache(2, 16);
  c.set({ prefix: "a", suffix: "", settings: S }, "1");
  c.set({ prefix: "b", suffix: "", settings: S }, "2");
  assert.ok(c.get({ prefix: "a", suffix: "", settings: S })); // "a" is now the most recent
  c.set({ prefix: "c", suffix: "", settings: S }, "3"); // evicts "b"
  assert.equal(c.size, 2);
  assert.equal(c.get({ prefix: "b", suffix: "", settings: S }), null);
  assert.deepEqual(c.get({ prefix: "a", suffix: "", settings: S }), { kind: "exact", text: "1" });
  assert.deepEqual(c.get({ prefix: "c", suffix: "", settings: S }), { kind: "exact", text: "3" });
});

test("an empty completion is cached as an exact answer", () => {
  const c = new CompletionCache(2, 16);
  c.set({ prefix: "x", suffix: "", settings: S }, "");
  assert.deepEqual(c.get({ prefix: "x", suffix: "", settings: S }), { kind: "exact", text: "" });
});

test("the cache is bounded in bytes too: the oldest entries go, an entry over the bound is not kept", () => {
  // One entry: id '["settings-A","","a"]' (21 chars) + prefix 1 + settings 10 + text 100 = 132 chars = 264 bytes.
  const c = new CompletionCache(100, 16, 600);
  const t = "x".repeat(100);
  for (const p of ["a", "b", "c"]) c.set({ prefix: p, suffix: "", settings: S }, t);
  assert.equal(c.size, 2);
  assert.equal(c.bytes, 528);
  assert.equal(c.get({ prefix: "a", suffix: "", settings: S }), null);
  c.set({ prefix: "d", suffix: "", settings: S }, "y".repeat(300)); // 664 bytes > 600
  assert.equal(c.get({ prefix: "d", suffix: "", settings: S }), null);
  assert.equal(c.bytes, 528);
  c.clear();
  assert.equal(c.bytes, 0);
});

test("an answer the gate hid is cached with its reason", () => {
  const c = new CompletionCache(4, 64);
  c.set({ prefix: "def g(", suffix: "", settings: "s" }, "", "low confidence (mean top-1 probability 0.20 < 0.5)");
  assert.deepEqual(c.get({ prefix: "def g(", suffix: "", settings: "s" }), { kind: "exact", text: "", hiddenReason: "low confidence (mean top-1 probability 0.20 < 0.5)" });
  c.set({ prefix: "def h(", suffix: "", settings: "s" }, "x):");
  assert.deepEqual(c.get({ prefix: "def h(", suffix: "", settings: "s" }), { kind: "exact", text: "x):" });
});
