/**
 * Issue 20: an inline completion on a block-causal bundle (the tiny SDAR fixture, a real ONNX Runtime
 * session) infills through bundle.json's FIM template: the suffix sits in the prompt between
 * <|fim_suffix|> and <|fim_middle|> (a block-causal model cannot read tokens after its block), and the
 * request runs the block cache by default.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonCore } from "../../server/src/daemon/core";
import { loadEngine } from "../../server/src/engine";
import type { GenerateRequest, GenerateResponse } from "../../server/src/engine-types";

const BUNDLE = join(__dirname, "..", "fixtures", "tiny-sdar");

test("inline completion on SDAR infills with the suffix in the prompt", async () => {
  const seen: { req: GenerateRequest; res: GenerateResponse }[] = [];
  const core = new DaemonCore({
    loadEngine: async (o) => {
      const e = await loadEngine({ ...o, bundleDir: BUNDLE, provider: "cpu", threads: 1 });
      const generate = e.generate.bind(e);
      return Object.assign(e, {
        generate: async (r: GenerateRequest) => {
          const res = await generate(r);
          seen.push({ req: r, res });
          return res;
        },
      });
    },
  });
  try {
    await core.load();
    await core.complete({ uri: "file:///a.py", before: "def add(a, b):\n    return ", after: "\n\nprint(add(1, 2))\n" });
    assert.equal(seen.length, 1);
    const { req, res } = seen[0];
    assert.equal(req.suffix, "\n\nprint(add(1, 2))\n");
    const tok = JSON.parse(readFileSync(join(BUNDLE, "tokenizer.json"), "utf8")) as { added_tokens: { id: number; content: string }[] };
    const id = (t: string) => tok.added_tokens.find((a) => a.content === t)!.id;
    const p = res.trace.promptIds;
    assert.equal(p[0], id("<|fim_prefix|>"));
    assert.equal(p[p.length - 1], id("<|fim_middle|>"));
    assert.ok(p.indexOf(id("<|fim_suffix|>")) > 0);
    assert.equal(res.trace.context?.cacheMode, "prefix");
    assert.equal((p.length + res.trace.outputIds.length) % 4, 0);
  } finally {
    await core.dispose();
  }
});
