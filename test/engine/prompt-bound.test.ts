/**
 * Issue 22 item 2: prompts are bounded in characters before they are tokenized. The per-tokenizer
 * bound (bundle/token-chars.ts) is checked against hand-counted vocabularies; boundPromptChars against
 * sizes computed by hand; the engine and the CLI refuse a 10 MB prompt without encoding it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { maxCharsPerToken } from "../../server/src/bundle/token-chars";
import { boundPromptChars } from "../../server/src/context-limit";
import { RequestError } from "../../server/src/errors";
import { loadEngine } from "../../server/src/engine";
import { root } from "../daemon/lsp-client";

test("maxCharsPerToken: the longest token string or added token; null where text can vanish or unknowns fuse", () => {
  const bpe = (extra: Record<string, unknown> = {}) => ({
    normalizer: null,
    pre_tokenizer: null,
    added_tokens: [{ content: "<|mask|>" }],
    model: { type: "BPE", vocab: { a: 0, bc: 1, "ĠĠĠ": 2 }, merges: [], ...extra },
  });
  // "<|mask|>" is 8 characters, longer than any vocabulary entry (3).
  assert.equal(maxCharsPerToken(bpe()), 8);
  assert.equal(maxCharsPerToken({ ...bpe(), added_tokens: [] }), 3);
  assert.equal(maxCharsPerToken({ ...bpe(), added_tokens: [], pre_tokenizer: { type: "ByteLevel" } }), 3);
  assert.equal(maxCharsPerToken(bpe({ unk_token: "<unk>", fuse_unk: true })), null, "fused unknowns cover any run");
  assert.equal(maxCharsPerToken({ ...bpe(), normalizer: { type: "Strip" } }), null, "a normalizer that deletes text");
  assert.equal(maxCharsPerToken({ ...bpe(), pre_tokenizer: { type: "WhitespaceSplit" } }), null, "whitespace removed");
  assert.equal(maxCharsPerToken({ ...bpe(), pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits" }, { type: "ByteLevel" }] } }), 8);
  const wp = { normalizer: null, pre_tokenizer: null, model: { type: "WordPiece", vocab: { "##abc": 0 }, max_input_chars_per_word: 50 } };
  assert.equal(maxCharsPerToken(wp), 50, "a whole word of up to 50 characters may become [UNK]");
  // The repository's bundles: char-level with <|unk|> / <|eos|> / <|pad|> / <|mask|> (8 characters at most).
  const tiny = JSON.parse(readFileSync(join(root, "models", "edit-tiny-char", "tokenizer.json"), "utf8"));
  assert.equal(maxCharsPerToken(tiny), 8);
});

test("boundPromptChars: refuses past the maximum size or the window with both sizes; a completion keeps its window", () => {
  const base = { extraChars: 2, genLength: 64, maxLen: 192, maxCharsPerToken: 8, maxPromptChars: 1000, overflow: "refuse" as const };
  // (1014 + 2) / 8 = 127 tokens at least; 127 + 64 = 191 <= 192: passes to the tokenizer.
  assert.equal(boundPromptChars({ ...base, prompt: "x".repeat(1000) }).length, 1000);
  assert.throws(() => boundPromptChars({ ...base, prompt: "x".repeat(1001) }), (e: unknown) => e instanceof RequestError && /at most 1000 characters/.test(e.message) && /1001 characters/.test(e.message));
  // 1023 + 2 = 1025 characters -> at least ceil(1025 / 8) = 129 tokens; 129 + 64 = 193 > 192.
  const wide = { ...base, maxPromptChars: 10_000 };
  assert.equal(boundPromptChars({ ...wide, prompt: "x".repeat(1022) }).length, 1022, "1024 / 8 = 128 tokens + 64 = 192 fits");
  assert.throws(() => boundPromptChars({ ...wide, prompt: "x".repeat(1023) }), (e: unknown) => e instanceof RequestError && /max_len/.test(e.message) && /1023 characters, at least 129 tokens/.test(e.message));
  // truncate: the last (192 + 1) * 8 = 1544 characters; a suffix keeps its first ones.
  const long = "a".repeat(5000) + "END";
  const kept = boundPromptChars({ ...wide, prompt: long, overflow: "truncate" });
  assert.equal(kept.length, 1544);
  assert.ok(kept.endsWith("END"));
  assert.ok(boundPromptChars({ ...wide, prompt: "BEGIN" + long, overflow: "truncate", keep: "start" }).startsWith("BEGIN"));
  // No window (rotary) or no bound: only the maximum size applies.
  assert.equal(boundPromptChars({ ...wide, maxLen: null, prompt: "x".repeat(9000) }).length, 9000);
  assert.equal(boundPromptChars({ ...wide, maxCharsPerToken: null, prompt: "x".repeat(9000) }).length, 9000);
});

test("engine: a 10 MB prompt is refused before tokenizing, a 10 MB completion window is cut", async () => {
  const engine = await loadEngine({ provider: "cpu", threads: 1 });
  try {
    const huge = "1".repeat(10_000_000);
    // The message is the character check's (10,000,000 + 2 template characters / 8): nothing was encoded.
    await assert.rejects(engine.generate({ prompt: huge, task: "arith", maxPromptChars: 20_000_000 }), /10000000 characters, at least 1250001 tokens/);
    const res = await engine.generate({ prompt: huge, task: "arith", maxPromptChars: 20_000_000, overflow: "truncate", stop: "full", genLength: 32, blockLength: 32, steps: 2 });
    assert.equal(res.trace.promptIds.length + 32, engine.info.maxLen);
  } finally {
    await engine.dispose();
  }
});

test("CLI: more than 3 x --max-prompt-chars bytes on stdin stops reading and exits 2 naming both sizes", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "server", "src", "cli.ts"), "generate", "--max-prompt-chars", "1000"], { cwd: root, input: "9".repeat(200_000), encoding: "utf8", env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /at most 1000 characters .*more than 3000 bytes on stdin/);
  assert.doesNotMatch(r.stderr, /    at /, "no stack trace");
});
