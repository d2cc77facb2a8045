/**
 * edit-bundle/2 (converted checkpoints): the tiny LLaDA- and Dream-layout fixtures written by
 * `python -m edit_dllm.arch.tiny --golden` load, their chat template renders as transformers would
 * (expected strings written out by hand from the template text), GQA metadata with per-module widths
 * loads, each malformed v2 field is a BundleError naming it, and the memory check refuses a model
 * larger than the memory available.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBundle } from "../../server/src/bundle/load";
import { checkMemoryFits, modelFootprint, RESIDENT_FACTOR } from "../../server/src/bundle/memory";
import { loadEngine } from "../../server/src/engine";
import { BundleError } from "../../server/src/errors";

const FIXTURES = join(__dirname, "..", "fixtures");
const LLADA = join(FIXTURES, "tiny-llada");
const DREAM = join(FIXTURES, "tiny-dream");

/** A copy of a fixture with bundle.json edited by `mutate`. */
function variant(src: string, mutate: (b: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "edit-bundle-v2-"));
  cpSync(src, dir, { recursive: true });
  const file = join(dir, "bundle.json");
  const b = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  mutate(b);
  writeFileSync(file, JSON.stringify(b));
  return dir;
}

function rejects(dir: string, file: string, field: string): void {
  assert.throws(
    () => loadBundle(dir),
    (e: unknown) => {
      assert.ok(e instanceof BundleError, String(e));
      assert.ok(e.file.endsWith(file), `error names ${e.file}, expected ${file}: ${e.message}`);
      assert.equal(e.field, field, e.message);
      return true;
    },
  );
}

test("the converted LLaDA-layout bundle loads as edit-bundle/2", () => {
  const b = loadBundle(LLADA);
  const c = b.config;
  assert.equal(c.format, "edit-bundle/2");
  assert.equal(c.model.architecture, "llada");
  assert.equal(c.model.shift, false);
  assert.equal(c.model.positions, "rope");
  assert.equal(c.model.dtype, "fp32");
  assert.deepEqual(c.model.cache, { layers: 2, kv_heads: 4, head_dim: 8 });
  assert.equal(c.ids.unk, null);
  assert.equal(b.tokenizer.tokenOf(c.ids.mask), "<|mdm_mask|>");
  assert.equal(b.tokenizer.tokenOf(c.ids.bos!), "<|startoftext|>");
  // the embedding is padded past the tokenizer, as in LLaDA-8B (126,349 ids, 126,464 rows)
  assert.ok(b.tokenizer.size < c.vocab_size);
  assert.deepEqual(c.infill, { template: "{prefix}{gen}{suffix}" });
});

test("chat templates render the user turn and the assistant header (LLaMA-3 style and ChatML)", () => {
  const llada = loadBundle(LLADA).chat!;
  assert.equal(
    llada.wrap("{prompt}"),
    "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  );
  const dream = loadBundle(DREAM).chat!;
  assert.equal(
    dream.render([{ role: "user", content: "hi" }]),
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
  );
});

test("Dream-layout bundle: shift, GQA metadata with q wider than k/v", () => {
  const b = loadBundle(DREAM);
  assert.equal(b.config.model.shift, true);
  assert.equal(b.metadata.modules.get("model.layers.1.self_attn.q_proj")!.dOut, 32);
  assert.equal(b.metadata.modules.get("model.layers.1.self_attn.k_proj")!.dOut, 16);
});

test("v2 field errors name the field", () => {
  rejects(variant(LLADA, (b) => (b.format = "edit-bundle/3")), "bundle.json", "format");
  rejects(variant(LLADA, (b) => delete (b.model as Record<string, unknown>).cache), "bundle.json", "model.cache");
  rejects(variant(LLADA, (b) => delete (b.model as Record<string, unknown>).max_len), "bundle.json", "model.max_len");
  rejects(variant(LLADA, (b) => ((b.model as Record<string, unknown>).dtype = "bf16")), "bundle.json", "model.dtype");
  rejects(variant(LLADA, (b) => ((b.model as Record<string, unknown>).architecture = "gpt2")), "bundle.json", "model.architecture");
  rejects(variant(LLADA, (b) => (b.infill = { template: "{prefix}{suffix}" })), "bundle.json", "infill.template");
  rejects(variant(LLADA, (b) => delete b.chat_template), "bundle.json", "chat_template");
  rejects(variant(LLADA, (b) => (b.chat_template = "{% for m in messages %}{{ m.content }")), "bundle.json", "chat_template");
  rejects(variant(LLADA, (b) => (b.chat_template = "{{ bos_token }}hello")), "bundle.json", "chat_template");
});

test("a tokenizer with more ids than the embedding rows is refused", () => {
  const dir = variant(LLADA, (b) => {
    b.vocab_size = 64;
    b.ids = { mask: 5, eos: 1, pad: 1, unk: null, bos: 0 };
  });
  rejects(dir, "tokenizer.json", "model.vocab + added_tokens");
});

test("memory: the footprint counts the model files; too little memory is a clear error", () => {
  const b = loadBundle(LLADA);
  const fp = modelFootprint(LLADA, b.config);
  const onnxBytes = readFileSync(join(LLADA, "model.onnx")).length;
  assert.equal(fp.fileBytes, onnxBytes);
  assert.equal(fp.residentBytes, Math.ceil(onnxBytes * RESIDENT_FACTOR));
  checkMemoryFits(fp, fp.residentBytes, 8 * fp.residentBytes);
  assert.throws(
    () => checkMemoryFits(fp, fp.residentBytes - 1, 8 * fp.residentBytes),
    (e: unknown) => e instanceof BundleError && /available/.test(e.message) && /--dtype int8/.test(e.message),
  );
});

test("engine: the chat template wraps the prompt; raw skips it; info reports the resident size", async () => {
  const engine = await loadEngine({ bundleDir: LLADA, provider: "cpu", threads: 1 });
  try {
    const b = loadBundle(LLADA);
    const chat = await engine.generate({ prompt: "hi", stop: "full", genLength: 8, blockLength: 8, steps: 8 });
    assert.deepEqual(chat.trace.promptIds, b.tokenizer.encode(b.chat!.wrap("{prompt}").replace("{prompt}", "hi")));
    const raw = await engine.generate({ prompt: "hi", stop: "full", raw: true, genLength: 8, blockLength: 8, steps: 8 });
    assert.deepEqual(raw.trace.promptIds, b.tokenizer.encode("hi"));
    assert.equal(engine.info.modelDtype, "fp32");
    assert.ok((engine.info.modelResidentBytes ?? 0) > 0);
  } finally {
    await engine.dispose();
  }
});

test("a v2 bundle converted without an adapter: no probes or metadata; full runs, EDIT says what it needs", async () => {
  const dir = variant(LLADA, (b) => {
    b.probes = {};
    b.default_probe = null;
    b.tasks = { chat: { template: "{prompt}", stop: { rule: "full", params: {} } } };
  });
  rmSync(join(dir, "edit-metadata.safetensors"));
  assert.equal(loadBundle(dir).config.default_probe, null);
  const engine = await loadEngine({ bundleDir: dir, provider: "cpu", threads: 1 });
  try {
    const r = await engine.generate({ prompt: "hi", genLength: 8, blockLength: 8, steps: 8 });
    assert.equal(r.trace.blocks.length, 1);
    await assert.rejects(engine.generate({ prompt: "hi", stop: "edit", genLength: 8, blockLength: 8, steps: 8 }), /probe module/);
  } finally {
    await engine.dispose();
  }
  // v1 still needs probes; v2 with probes needs the metadata file
  rejects(variant(LLADA, (b) => (b.default_probe = null)), "bundle.json", "default_probe");
  const noMeta = variant(LLADA, () => undefined);
  rmSync(join(noMeta, "edit-metadata.safetensors"));
  rejects(noMeta, "edit-metadata.safetensors", "");
});
