/**
 * Block-causal bundles (issue 20): the engine generates token-exact what the official SDAR
 * (generate.py block_diffusion_generate) and Fast-dLLM v2 (modeling.py generate) functions produce on the
 * same weights. The expected ids in test/fixtures/official/tiny-<family>.json were written by those
 * functions (training/edit_dllm/block_fixture.py; training/tests/test_block_diffusion.py re-checks them
 * where the official code is present), never by the code under test. Also: the exact block-wise K/V cache
 * gives the same tokens as no cache while computing only the current block, the prompt cache reuses whole
 * blocks across requests, and every registered rule runs on these bundles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { mkdtempSync } from "../temp-dirs";
import { join } from "node:path";
import { loadEngine } from "../../server/src/engine";
import type { Engine } from "../../server/src/engine-types";
import { listStopRules } from "../../server/src/stop/registry";
import { releasedSizes } from "../../server/src/cli/doctor";
import { assertValidTrace } from "./trace-schema";
import type { ParamValue } from "../../protocol/lsp";

const FIXTURES = join(__dirname, "..", "fixtures");

interface OfficialCase {
  case: string;
  prompt: string;
  promptIds: number[];
  request: { genLength: number; blockLength: number; steps: number; stop: string; params: Record<string, ParamValue> };
  outputIds: number[];
  /** The stop id of this case when it is not the bundle's eos (the engine runs a copy with ids.eos = it). */
  eos?: number;
}
interface OfficialGolden {
  family: "sdar" | "fast-dllm-v2";
  eos: number;
  cases: OfficialCase[];
}

const engines = new Map<string, Promise<Engine>>();
function engine(name: string, eos?: number): Promise<Engine> {
  const key = `${name}/${eos ?? ""}`;
  if (!engines.has(key)) {
    let dir = join(FIXTURES, name);
    if (eos !== undefined) {
      // a copy whose bundle.json stops on `eos` (the official run's stop id for this case)
      dir = mkdtempSync(join(tmpdir(), "edit-block-eos-"));
      cpSync(join(FIXTURES, name), dir, { recursive: true });
      const b = JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8")) as { ids: { eos: number } };
      b.ids.eos = eos;
      writeFileSync(join(dir, "bundle.json"), JSON.stringify(b));
    }
    engines.set(key, loadEngine({ bundleDir: dir, provider: "cpu", threads: 1, promptCacheBytes: 0 }));
  }
  return engines.get(key)!;
}

function golden(name: string): OfficialGolden {
  return JSON.parse(readFileSync(join(FIXTURES, "official", `${name}.json`), "utf8")) as OfficialGolden;
}

/**
 * How many leading ids the official output and the engine's must share: through the first eos (the text
 * ends there; the official functions leave the rest masked, the engine writes eos), else all of them, minus
 * Fast-dLLM v2's trailing next-token (generate() appends it after the last block without decoding that block).
 */
function compared(g: OfficialGolden, c: OfficialCase): number {
  const eos = c.outputIds.indexOf(c.eos ?? g.eos);
  if (eos >= 0) return eos + 1;
  return g.family === "fast-dllm-v2" ? c.outputIds.length - 1 : c.outputIds.length;
}

for (const name of ["tiny-sdar", "tiny-fast-dllm-v2"]) {
  const g = golden(name);
  test(`${name}: the engine equals the official generate function, with and without the block cache`, async () => {
    assert.ok(g.cases.length >= 8, "the fixture has its cases");
    assert.ok(g.cases.some((c) => c.eos !== undefined && c.outputIds.includes(c.eos)), "a case stops on its eos");
    for (const c of g.cases) {
      const e = await engine(name, c.eos);
      for (const cache of ["none", "prefix"] as const) {
        const { trace } = await e.generate({ prompt: c.prompt, raw: true, ...c.request, cache });
        const where = `${c.case} ${JSON.stringify(c.prompt)} cache=${cache}`;
        assert.deepEqual(trace.promptIds, c.promptIds, `${where}: tokenization`);
        const n = compared(g, c);
        assert.deepEqual(trace.outputIds.slice(0, n), c.outputIds.slice(0, n), where);
        // the generation ends on the model's block boundary
        const bs = c.request.blockLength;
        assert.equal((c.promptIds.length + trace.outputIds.length) % bs, 0, `${where}: block-aligned end`);
      }
    }
  });
}

test("the block cache computes only the current block and never refreshes finished blocks", async () => {
  const e = await engine("tiny-sdar");
  const c = golden("tiny-sdar").cases.find((x) => x.case === "static" && x.promptIds.length % 4 !== 0)!;
  const { trace } = await e.generate({ prompt: c.prompt, raw: true, ...c.request, cache: "prefix" });
  const L = c.promptIds.length;
  const steps = trace.blocks.flatMap((b) => b.steps.map((s) => ({ b, s })));
  // first forward: the prompt and the first block (no past). A block's first forward also computes the
  // block just finished (its K/V join the cache then, as generate.py's store_kv forward); every other forward
  // computes the current block only.
  assert.equal(steps[0].s.forwardTokens, trace.blocks[0].end);
  for (const { b, s } of steps.slice(1)) {
    assert.equal(s.refreshed, false);
    const own = b.end - Math.floor(b.start / 4) * 4;
    assert.equal(s.forwardTokens, s.step === 1 ? own + 4 : own, `block ${b.index} step ${s.step}`);
  }
  // the first block completes the prompt's partial block
  assert.equal(trace.blocks[0].start, L);
  assert.equal(trace.blocks[0].end, Math.ceil(L / 4) * 4);
});

test("the prompt cache reuses whole blocks across requests, and the tokens do not change", async () => {
  const e = await loadEngine({ bundleDir: join(FIXTURES, "tiny-fast-dllm-v2"), provider: "cpu", threads: 1 });
  try {
    const c = golden("tiny-fast-dllm-v2").cases.find((x) => x.promptIds.length === 31)!;
    const first = await e.generate({ prompt: c.prompt, raw: true, ...c.request });
    const again = await e.generate({ prompt: c.prompt, raw: true, ...c.request });
    assert.equal(first.trace.context?.promptCacheTokens, 0);
    assert.equal(again.trace.context?.promptCacheTokens, 24); // 31 prompt tokens: three whole blocks of 8
    assert.deepEqual(again.trace.outputIds, first.trace.outputIds);
  } finally {
    await e.dispose();
  }
});

test("every registered stop rule runs on the block-causal bundles", async () => {
  for (const name of ["tiny-sdar", "tiny-fast-dllm-v2"]) {
    const e = await engine(name);
    const c = golden(name).cases[0];
    // edit-released needs the full Ū_B, which metadata estimated from an adapter does not have (any bundle);
    // learned needs a commit policy trained for the bundle (bundle.json commit_policies), which these have not.
    for (const rule of listStopRules().filter((r) => r.name !== "edit-released" && r.name !== "learned")) {
      const { trace } = await e.generate({ prompt: c.prompt, raw: true, ...c.request, stop: rule.name, params: {} });
      assert.equal((c.promptIds.length + trace.outputIds.length) % c.request.blockLength, 0, `${name} ${rule.name}`);
      assert.ok(!trace.outputIds.includes(-1));
    }
  }
});

test("a block-causal bundle refuses another block length, and infills with the suffix in the prompt", async () => {
  const e = await engine("tiny-sdar");
  await assert.rejects(e.generate({ prompt: "def add(a, b):", raw: true, genLength: 16, blockLength: 8, steps: 16 }), /blockLength/);
  // bundle.json infill: <|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>{gen}: nothing after the masks
  const { trace } = await e.generate({ prompt: "def add(a, b):\n    return ", suffix: "\n\nprint(add(1, 2))", genLength: 8, blockLength: 4, steps: 8 });
  const b = loadBundleTokens("tiny-sdar");
  assert.equal(trace.promptIds[0], b.fimPrefix);
  assert.equal(trace.promptIds[trace.promptIds.length - 1], b.fimMiddle);
  assert.ok(trace.promptIds.includes(b.fimSuffix));
});

function loadBundleTokens(name: string): { fimPrefix: number; fimSuffix: number; fimMiddle: number } {
  const tok = JSON.parse(readFileSync(join(FIXTURES, name, "tokenizer.json"), "utf8")) as { added_tokens: { id: number; content: string }[] };
  const id = (t: string) => tok.added_tokens.find((a) => a.content === t)!.id;
  return { fimPrefix: id("<|fim_prefix|>"), fimSuffix: id("<|fim_suffix|>"), fimMiddle: id("<|fim_middle|>") };
}

test("doctor's released sizes: Fast-dLLM v2 1.5B has Qwen2.5-1.5B's published parameter count", () => {
  const [small] = releasedSizes("fast-dllm-v2");
  assert.equal(small.params, 1_543_714_304); // Qwen2.5-1.5B (its base) on its model card
  assert.equal(small.kvBytesPerToken, 2 * 28 * 2 * 128 * 4);
  assert.deepEqual(releasedSizes("llada"), []);
});

test("the CLI generates on both block-causal bundles (official decoding rule, JSON trace)", () => {
  const ROOT = join(__dirname, "..", "..");
  for (const name of ["tiny-sdar", "tiny-fast-dllm-v2"]) {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), "generate", "--bundle", join(FIXTURES, name), "--raw", "--json", "--stop", "confidence"],
      { cwd: ROOT, input: "def add(a, b):\n", encoding: "utf8", env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" } },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { trace: { promptIds: number[]; outputIds: number[]; blocks: { start: number; end: number }[] } };
    assertValidTrace(out.trace); // schemas/trace.schema.json holds for block-causal traces too
    const bs = name === "tiny-sdar" ? 4 : 8;
    assert.equal((out.trace.promptIds.length + out.trace.outputIds.length) % bs, 0, name);
    assert.equal(out.trace.blocks[0].start, out.trace.promptIds.length);
  }
});

test("dispose the engines", async () => {
  for (const e of engines.values()) await (await e).dispose();
});
