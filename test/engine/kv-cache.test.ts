/**
 * Issue 11 items 2-4: the K/V cache behind the model seam.
 * - refresh every forward: `prefix` and `dual` equal `none` token for token (embedded learned-position
 *   bundle and the rotary fixture);
 * - a forward that reads the cache right after a refresh of the same ids reproduces the refresh's rows
 *   (the cached K/V are then exact), and the trace records each forward's token count and refresh;
 * - the cross-request prompt cache is bounded in bytes (evicts) and a cancelled prefill leaves no state.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadEngine } from "../../server/src/engine";
import type { Engine } from "../../server/src/engine-types";
import { KvCacheModel } from "../../server/src/model/kv-cache-model";
import { concatKv, kvBytes, sliceKv } from "../../server/src/model/kv-span";
import { createOnnxModel } from "../../server/src/model/onnx-model";
import { PrefixKvCache } from "../../server/src/model/prefix-cache";
import { isCacheGraphModel, type ForwardResult, type CacheForwardRequest, type CacheForwardResult, type CacheGraphModel, type KvSpan } from "../../server/src/model/types";
import { defaultBundleDir } from "../../server/src/bundle/locate";
import { loadBundle } from "../../server/src/bundle/load";
import { assertValidTrace } from "./trace-schema";

const ROPE = join(__dirname, "..", "fixtures", "rope-tiny-char");
const engines = new Map<string, Promise<Engine>>();
const engineFor = (dir: string) => {
  if (!engines.has(dir)) engines.set(dir, loadEngine({ bundleDir: dir, provider: "cpu", threads: 1 }));
  return engines.get(dir)!;
};
after(async () => {
  for (const e of engines.values()) await (await e).dispose();
});

const CASES: [string, string, string][] = [
  ["embedded", defaultBundleDir(), "17 8 5>30"],
  ["rotary", ROPE, "3 9 4>21"],
];

for (const [what, dir, prompt] of CASES) {
  test(`${what}: refresh every forward makes prefix and dual equal none token for token`, async () => {
    const e = await engineFor(dir);
    const req = { prompt, task: "countdown", stop: "full" } as const;
    const none = await e.generate({ ...req, cache: "none" });
    for (const mode of ["prefix", "dual"] as const) {
      const c = await e.generate({ ...req, cache: mode, cacheRefreshEvery: 1 });
      assertValidTrace(c.trace);
      assert.equal(c.trace.context?.cacheMode, mode);
      assert.deepEqual(c.trace.outputIds, none.trace.outputIds, `${mode} output ids`);
      assert.deepEqual(
        c.trace.blocks.map((b) => b.steps.map((s) => s.committed)),
        none.trace.blocks.map((b) => b.steps.map((s) => s.committed)),
        `${mode} commits`,
      );
      assert.ok(c.trace.blocks.every((b) => b.steps.every((s) => s.refreshed === true)));
    }
  });
}

test("prefix/dual at block-start refresh: token counts per forward and refresh flags in the trace", async () => {
  const e = await engineFor(ROPE);
  const prompt = "3 9 4>21"; // "C:" + 8 + "=" = 11 tokens; gen 64 = 2 blocks of 32, 16 forwards each
  for (const [mode, cachedTokens] of [["prefix", [64, 32]], ["dual", [32, 32]]] as const) {
    const { trace } = await e.generate({ prompt, task: "countdown", stop: "full", cache: mode });
    assertValidTrace(trace);
    assert.ok(trace.blocks[0].steps.length > 1);
    trace.blocks.forEach((b, bi) => {
      if (b.endedBy === "eos-skip") return; // an EOS in block 0 ends the generation (0 forwards)
      assert.equal(b.steps[0].refreshed, true, `${mode} block ${bi} refreshes at its start`);
      // The refresh computes everything not taken from the cross-request prompt cache.
      assert.equal(b.steps[0].forwardTokens, 11 + 64 - (bi === 0 ? trace.context!.promptCacheTokens : 0));
      for (const s of b.steps.slice(1)) {
        assert.equal(s.refreshed, false);
        assert.equal(s.forwardTokens, cachedTokens[bi], `${mode} block ${bi} step ${s.step}`);
      }
    });
  }
});

test("a forward reading the cache right after a refresh of the same ids reproduces its rows", async () => {
  for (const dir of [defaultBundleDir(), ROPE]) {
    const b = loadBundle(dir);
    const inner = await createOnnxModel(b.modelPath, { provider: "cpu", threads: 1, probes: b.config.probes, padId: b.config.ids.pad });
    if (!isCacheGraphModel(inner)) throw new Error(`${dir}: model.onnx is not a cache graph`);
    const graph: CacheGraphModel = inner;
    const ids = Int32Array.from([5, 6, 7, 8, 9, 10, 11, 12, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
    for (const mode of ["prefix", "dual"] as const) {
      const m: KvCacheModel = new KvCacheModel(graph, { mode, refreshEvery: null });
      const want = { start: 8, end: 12 };
      const a: ForwardResult = await m.forward(ids, { want });
      const c: ForwardResult = await m.forward(ids, { want });
      assert.deepEqual(a.cache, { tokens: 18, refreshed: true });
      assert.deepEqual(c.cache, { tokens: mode === "prefix" ? 10 : 4, refreshed: false });
      assert.equal(c.rowStart, 8);
      assert.equal(c.logits.length, a.logits.length);
      let worst = 0;
      for (let i = 0; i < a.logits.length; i++) worst = Math.max(worst, Math.abs(a.logits[i] - c.logits[i]));
      assert.ok(worst <= 1e-4, `${dir} ${mode}: max |logit diff| ${worst}`);
      const probe = b.config.default_probe!;
      const pa = a.activations.get(probe)!.data;
      const pc = c.activations.get(probe)!.data;
      for (let i = 0; i < pa.length; i++) assert.ok(Math.abs(pa[i] - pc[i]) <= 1e-4);
      // Committing a block token changes nothing cached in prefix/dual (it is in the query): still no refresh.
      ids[9] = 20;
      assert.equal((await m.forward(ids, { want })).cache?.refreshed, false);
      ids[9] = 3;
    }
    await inner.dispose();
  }
});

test("a cache mode on a v1 graph (no past K/V inputs) runs none and says why", async () => {
  const e = await engineFor(join(__dirname, "..", "fixtures", "micro-bundle"));
  const { trace } = await e.generate({ prompt: "12+34", task: "arith", stop: "full", cache: "dual", genLength: 32, blockLength: 32, steps: 2 });
  assert.equal(trace.context?.cacheRequested, "dual");
  assert.equal(trace.context?.cacheMode, "none");
  assert.match(trace.context?.note ?? "", /no past K\/V/);
});

test("an unknown cache mode or refresh interval is a request error naming the field", async () => {
  const e = await engineFor(ROPE);
  await assert.rejects(e.generate({ prompt: "1", cache: "triple" as "none" }), /request field "cache": expected one of none, prefix, dual/);
  await assert.rejects(e.generate({ prompt: "1", cache: "prefix", cacheRefreshEvery: 0 }), /cacheRefreshEvery/);
});

const G = { layers: 1, kvHeads: 2, headDim: 3 };
/** A span whose value at [head h, row r, dim d] is base + 100 h + 10 r + d. */
function span(length: number, base = 0): KvSpan {
  const a = new Float32Array(G.kvHeads * length * G.headDim);
  for (let h = 0; h < G.kvHeads; h++) for (let r = 0; r < length; r++) for (let d = 0; d < 3; d++) a[(h * length + r) * 3 + d] = base + 100 * h + 10 * r + d;
  return { length, layers: [{ key: a, value: a.map((x) => -x) }] };
}

test("sliceKv/concatKv keep [head, row, dim] order", () => {
  const s = sliceKv(span(4), G, [[0, 1], [3, 4]]);
  assert.deepEqual(Array.from(s.layers[0].key), [0, 1, 2, 30, 31, 32, 100, 101, 102, 130, 131, 132]);
  const c = concatKv(span(1), span(1, 1000), G);
  assert.deepEqual(Array.from(c.layers[0].key), [0, 1, 2, 1000, 1001, 1002, 100, 101, 102, 1100, 1101, 1102]);
  assert.equal(kvBytes(span(4)), 2 * 2 * 4 * 3 * 4);
});

test("prompt cache: longest common prefix, LRU order, evicts past its byte bound, refuses an entry larger than it", () => {
  const bytes = kvBytes(span(4)); // 192 bytes per 4-token entry
  const cache = new PrefixKvCache(2 * bytes);
  cache.store([1, 2, 3, 4], span(4));
  cache.store([1, 2, 9, 9], span(4));
  assert.equal(cache.lookup([1, 2, 3, 7, 7])?.length, 3);
  cache.store([5, 6, 7, 8], span(4)); // evicts the least recently used: [1, 2, 9, 9]
  assert.deepEqual(cache.stats().entries, 2);
  assert.ok(cache.stats().bytes <= 2 * bytes);
  assert.equal(cache.stats().evictions, 1);
  assert.equal(cache.lookup([1, 2, 9])?.length, 2, "only [1, 2, 3, 4] shares a prefix now");
  cache.store([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], span(12)); // 576 bytes > bound: not stored
  assert.equal(cache.stats().entries, 2);
  assert.equal(cache.lookup([8]), null);
});

/** A cache graph whose forwardCache fails (as an aborted prefill would) on chosen calls. */
class FlakyGraph implements CacheGraphModel {
  readonly provider = "fake";
  readonly kv = G;
  readonly kvDtype = "float32" as const;
  readonly shift = false;
  calls: CacheForwardRequest[] = [];
  constructor(private readonly failOn: Set<number>) {}
  async forward(): Promise<never> {
    throw new Error("not used");
  }
  async forwardCache(req: CacheForwardRequest): Promise<CacheForwardResult> {
    const n = this.calls.push(req) - 1;
    if (this.failOn.has(n)) throw new Error("aborted mid-prefill");
    const rows = req.want.end - req.want.start;
    return { logits: new Float32Array(rows * 2), vocab: 2, activations: new Map(), present: span(req.ids.length) };
  }
  async dispose(): Promise<void> {}
}

test("a prefill that fails leaves neither the request's cache nor the prompt cache half-written", async () => {
  const prompts = new PrefixKvCache(1 << 20);
  const g = new FlakyGraph(new Set([0]));
  const m = new KvCacheModel(g, { mode: "prefix", refreshEvery: null }, prompts);
  const ids = Int32Array.from([1, 2, 3, 4, 0, 0]);
  await assert.rejects(m.forward(ids, { want: { start: 4, end: 6 } }), /aborted/);
  assert.equal(prompts.stats().entries, 0);
  const again = await m.forward(ids, { want: { start: 4, end: 6 } });
  assert.equal(again.cache?.refreshed, true, "the next forward refreshes from scratch");
  assert.equal(g.calls[1].past, null);
  assert.equal(g.calls[1].ids.length, 6);
});
