/**
 * Issue 11 item 1: prompt + genLength <= model.max_len is checked before any forward. At exactly max_len
 * both request kinds run; at max_len + 1 generate/CLI refuse (RequestError -> JSON-RPC -32602, exit 2)
 * naming the limit and both lengths, and a completion drops one prompt token from the left.
 * The embedded bundle is char-level: one character = one token, so lengths are counted by hand.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeTestBundle } from "./bundle-builder";
import { FakeModel } from "./fakes";
import { loadEngine } from "../../server/src/engine";
import { fitContext, fitInfill } from "../../server/src/context-limit";
import { RequestError } from "../../server/src/errors";
import { toResponseError } from "../../server/src/daemon/rpc-errors";
import type { Engine } from "../../server/src/engine-types";

const ROOT = join(__dirname, "..", "..");
const MAX = 192;
// countdown's template is "C:{prompt}=": 3 template tokens; gen 32 in 1 block of 32, 1 step (cheap).
const LENGTHS = { genLength: 32, blockLength: 32, steps: 1 };
const promptOf = (tokens: number) => "1".repeat(tokens - 3);

let engine: Promise<Engine> | null = null;
const getEngine = () => (engine ??= loadEngine({ provider: "cpu", threads: 1 }));
after(async () => {
  if (engine) await (await engine).dispose();
});

const encode = (t: string) => Array.from(t, (c) => c.charCodeAt(0));

test("fitContext: exactly max_len fits; one more is refused with both lengths, or truncated by one", () => {
  const base = { template: "C:{prompt}=", encode, genLength: 10, maxLen: 20 };
  const fits = fitContext({ ...base, prompt: "x".repeat(7), overflow: "refuse" });
  assert.equal(fits.promptIds.length, 10);
  assert.equal(fits.droppedTokens, 0);
  assert.throws(
    () => fitContext({ ...base, prompt: "x".repeat(8), overflow: "refuse" }),
    (e: unknown) => e instanceof RequestError && e.field === "prompt" && /<= 20 tokens/.test(e.message) && /11 prompt tokens \+ genLength 10 = 21/.test(e.message),
  );
  const cut = fitContext({ ...base, prompt: "abcdefgh", overflow: "truncate" });
  assert.equal(cut.droppedTokens, 1);
  // The template's head "C:" stays; the prompt's first character goes.
  assert.deepEqual(cut.promptIds, encode("C:bcdefgh="));
  assert.equal(fitContext({ ...base, maxLen: null, prompt: "x".repeat(500), overflow: "refuse" }).droppedTokens, 0);
  assert.throws(() => fitContext({ ...base, genLength: 18, prompt: "xx", overflow: "truncate" }), /genLength.*at most 17/);
});

test("generate at exactly max_len runs; at max_len + 1 it is refused before any forward (-32602)", async () => {
  const e = await getEngine();
  const ok = await e.generate({ prompt: promptOf(MAX - 32), task: "countdown", stop: "full", ...LENGTHS });
  assert.equal(ok.trace.promptIds.length + 32, MAX);
  assert.equal(ok.trace.context?.droppedTokens, 0);
  assert.equal(ok.trace.context?.maxLen, MAX);
  await assert.rejects(
    e.generate({ prompt: promptOf(MAX - 31), task: "countdown", stop: "full", ...LENGTHS }),
    (err: unknown) => {
      assert.ok(err instanceof RequestError);
      assert.match(err.message, /prompt \+ genLength <= 192 tokens \(the model's max_len\)/);
      assert.match(err.message, /161 prompt tokens \+ genLength 32 = 193/);
      assert.equal(toResponseError(err).code, -32602);
      return true;
    },
  );
});

test("a completion at max_len + 1 drops one prompt token from the left and records it", async () => {
  const e = await getEngine();
  const prompt = "9" + promptOf(MAX - 32);
  const res = await e.generate({ prompt, task: "countdown", stop: "full", overflow: "truncate", ...LENGTHS });
  assert.equal(res.trace.context?.droppedTokens, 1);
  assert.equal(res.trace.promptIds.length + 32, MAX);
  const exact = await e.generate({ prompt: promptOf(MAX - 32), task: "countdown", stop: "full", overflow: "truncate", ...LENGTHS });
  assert.equal(exact.trace.context?.droppedTokens, 0);
  assert.deepEqual(res.trace.promptIds, exact.trace.promptIds, "the dropped token was the prompt's first");
});

test("CLI: a prompt past max_len exits 2 with the limit and both lengths, no stack trace", () => {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), "generate", "--task", "countdown", "--threads", "1", "--gen-length", "64", "1".repeat(200)],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" } },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /192 tokens/);
  assert.match(r.stderr, /203 prompt tokens \+ genLength 64 = 267/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test("fitInfill: masks between prefix and suffix; a completion drops suffix tokens from the right, then prefix tokens from the left", () => {
  const base = { template: "<{prefix}|{gen}|{suffix}>", encode, genLength: 4, overflow: "truncate" as const };
  const fits = fitInfill({ ...base, prefix: "ab", suffix: "cd", maxLen: 12 });
  assert.deepEqual(fits.promptIds, encode("<ab|"));
  assert.deepEqual(fits.suffixIds, encode("|cd>"));
  assert.equal(fits.droppedTokens + fits.droppedSuffixTokens, 0);
  // Head "<ab|" 4 + gen 4 + suffix "|cdefghijkl>" 12 = 20, 6 over 14: the suffix alone gives them up
  // (it keeps at least floor((14 - 4) / 4) = 2 tokens), so the prefix stays whole.
  const suffixOnly = fitInfill({ ...base, prefix: "ab", suffix: "cdefghijkl", maxLen: 14 });
  assert.equal(suffixOnly.droppedSuffixTokens, 6);
  assert.deepEqual(suffixOnly.suffixIds, encode("|cdefg"));
  assert.equal(suffixOnly.droppedTokens, 0);
  // Head "<abcdefgh|" 10 + 4 + 12 = 26, 12 over: the suffix drops 10 (down to 2: "|c"), then 2 prefix
  // tokens go from the left, after the template's "<".
  const cut = fitInfill({ ...base, prefix: "abcdefgh", suffix: "cdefghijkl", maxLen: 14 });
  assert.equal(cut.droppedSuffixTokens, 10);
  assert.deepEqual(cut.suffixIds, encode("|c"));
  assert.equal(cut.droppedTokens, 2);
  assert.deepEqual(cut.promptIds, encode("<cdefgh|"));
  assert.equal(cut.promptIds.length + 4 + cut.suffixIds.length, 14);
  assert.throws(() => fitInfill({ ...base, overflow: "refuse", prefix: "ab", suffix: "cdefghijkl", maxLen: 14 }), /<= 14 tokens/);
});

test("infill through the engine: the masks sit between the prefix and the suffix; a bundle without infill refuses a suffix", async () => {
  const dir = writeTestBundle(mkdtempSync(join(tmpdir(), "edit-infill-")), ({ config }) => {
    Object.assign(config, { format: "edit-bundle/2", chat_template: null, infill: { template: "{prefix}#{gen}{suffix}" } });
    Object.assign(config.model as object, { max_len: 40, cache: null, architecture: "edit-tiny", positions: "learned", dtype: "fp32" });
  });
  const model = new FakeModel(22, () => new Map());
  const e = await loadEngine({ bundleDir: dir }, { model });
  // Test bundle ids: "0".."9" = 4..13, "+" 14, "#" 17, mask 3; gen 8 (the bundle's default).
  const { trace } = await e.generate({ prompt: "12", suffix: "+3", stop: "full" });
  assert.deepEqual(Array.from(model.inputs[0]), [5, 6, 17, 3, 3, 3, 3, 3, 3, 3, 3, 14, 7]);
  assert.deepEqual(trace.promptIds, [5, 6, 17]);
  assert.equal(trace.outputIds.length, 8);
  await e.dispose();
  const plain = await loadEngine({ bundleDir: writeTestBundle(mkdtempSync(join(tmpdir(), "edit-infill-"))) }, { model: new FakeModel(22, () => new Map()) });
  await assert.rejects(plain.generate({ prompt: "1", suffix: "2" }), /request field "suffix": expected a bundle whose bundle.json declares an infill template/);
  await plain.dispose();
});
