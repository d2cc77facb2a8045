import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "../temp-dirs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkModelAgainstBundle, loadBundle } from "../../server/src/bundle/load";
import { BundleError } from "../../server/src/errors";
import { D_OUT, MODULE, writeTestBundle } from "./bundle-builder";


const tmp = () => mkdtempSync(join(tmpdir(), "edit-bundle-"));

function rejects(dir: string, file: string, field: string | RegExp) {
  assert.throws(
    () => loadBundle(dir),
    (e: unknown) => {
      if (!(e instanceof BundleError)) return false;
      const fieldOk = typeof field === "string" ? e.field === field : field.test(e.field);
      assert.ok(e.file.endsWith(file), `error names ${e.file}, expected ${file}: ${e.message}`);
      assert.ok(fieldOk, `error names field "${e.field}", expected ${field}: ${e.message}`);
      return true;
    },
  );
}

test("a well-formed bundle loads", () => {
  const dir = writeTestBundle(tmp());
  const b = loadBundle(dir);
  assert.equal(b.config.name, "test-bundle");
  assert.equal(b.tokenizer.size, 22);
  assert.deepEqual(b.tokenizer.encode("A:1+2="), [19, 21, 5, 14, 6, 16]);
  assert.equal(b.tokenizer.decode([5, 14, 6]), "1+2");
  const m = b.metadata.modules.get(MODULE)!;
  assert.equal(m.dOut, D_OUT);
  assert.deepEqual(Array.from(m.u), [1, 2, 3, 4]);
  assert.deepEqual(m.gradRms, [Math.fround(0.01), Math.fround(0.002)]);
  assert.equal(b.metadata.defaultProbe, MODULE);
  rmSync(dir, { recursive: true });
});

test("missing file", () => {
  const dir = writeTestBundle(tmp());
  rmSync(join(dir, "tokenizer.json"));
  rejects(dir, "tokenizer.json", "");
});

test("bundle.json: missing mask id, wrong format, bad geometry, unknown default task", () => {
  rejects(writeTestBundle(tmp(), (p) => delete (p.config.ids as Record<string, unknown>).mask), "bundle.json", "ids.mask");
  rejects(writeTestBundle(tmp(), (p) => (p.config.format = "edit-bundle/3")), "bundle.json", "format");
  rejects(writeTestBundle(tmp(), (p) => ((p.config.generation as Record<string, unknown>).block_length = 3)), "bundle.json", "generation.block_length");
  rejects(writeTestBundle(tmp(), (p) => ((p.config.generation as Record<string, unknown>).steps = 3)), "bundle.json", "generation.steps");
  rejects(writeTestBundle(tmp(), (p) => (p.config.default_task = "nope")), "bundle.json", "default_task");
  rejects(writeTestBundle(tmp(), (p) => ((p.config.tasks as any).arith.template = "A:")), "bundle.json", "tasks.arith.template");
});

test("vocab size disagrees with the tokenizer; special id beyond the vocab", () => {
  rejects(writeTestBundle(tmp(), (p) => (p.config.vocab_size = 30)), "tokenizer.json", /vocab/);
  rejects(writeTestBundle(tmp(), (p) => ((p.config.ids as Record<string, number>).mask = 40)), "bundle.json", "ids.mask");
  // mask id inside the vocab but pointing at another token than <|mask|>
  rejects(writeTestBundle(tmp(), (p) => ((p.config.ids as Record<string, number>).mask = 5)), "bundle.json", "ids.mask");
});

test("metadata: wrong dims, missing tensor, missing header key, default probe not recorded", () => {
  rejects(writeTestBundle(tmp(), (p) => (p.tensors[`${MODULE}.u`] = { shape: [3], data: [1, 2, 3] })), "edit-metadata.safetensors", `tensor ${MODULE}.u.shape`);
  rejects(writeTestBundle(tmp(), (p) => delete p.tensors[`${MODULE}.subspace`]), "edit-metadata.safetensors", `tensor ${MODULE}.subspace`);
  rejects(writeTestBundle(tmp(), (p) => delete p.header.eps_placement), "edit-metadata.safetensors", "__metadata__.eps_placement");
  rejects(writeTestBundle(tmp(), (p) => (p.header.default_probe = "blocks.9.attn.q_proj")), "edit-metadata.safetensors", "__metadata__.default_probe");
});

test("model cross-checks: missing probe output, logits width, activation width", () => {
  const b = loadBundle(writeTestBundle(tmp()));
  const out = `act.${MODULE}`;
  const ok = { outputNames: ["logits", out], widths: new Map([["logits", 22], [out, D_OUT]]) };
  checkModelAgainstBundle(b, ok);
  const bad = (facts: typeof ok, field: string) =>
    assert.throws(() => checkModelAgainstBundle(b, facts), (e: unknown) => e instanceof BundleError && e.field === field && e.file.endsWith("model.onnx"));
  bad({ ...ok, outputNames: ["logits"] }, `output ${out}`);
  bad({ ...ok, widths: new Map([["logits", 21], [out, D_OUT]]) }, "output logits (last axis)");
  bad({ ...ok, widths: new Map([["logits", 22], [out, D_OUT + 1]]) }, `output ${out} (last axis)`);
});

const MICRO = join(__dirname, "..", "fixtures", "micro-bundle");

test("corrupted copies of the micro bundle", { skip: !existsSync(join(MICRO, "bundle.json")) && "micro bundle not present yet" }, () => {
  const copy = () => {
    const d = tmp();
    cpSync(MICRO, d, { recursive: true });
    return d;
  };
  loadBundle(copy());
  const noModel = copy();
  rmSync(join(noModel, "model.onnx"));
  rejects(noModel, "model.onnx", "");
  const noMask = copy();
  const cfg = JSON.parse(readFileSync(join(noMask, "bundle.json"), "utf8"));
  delete cfg.ids.mask;
  writeFileSync(join(noMask, "bundle.json"), JSON.stringify(cfg));
  rejects(noMask, "bundle.json", "ids.mask");
  const wrongVocab = copy();
  const cfg2 = JSON.parse(readFileSync(join(wrongVocab, "bundle.json"), "utf8"));
  cfg2.vocab_size += 1;
  writeFileSync(join(wrongVocab, "bundle.json"), JSON.stringify(cfg2));
  assert.throws(() => loadBundle(wrongVocab), BundleError);
  const truncated = copy();
  const meta = readFileSync(join(truncated, "edit-metadata.safetensors"));
  writeFileSync(join(truncated, "edit-metadata.safetensors"), meta.subarray(0, meta.length - 16));
  rejects(truncated, "edit-metadata.safetensors", /data_offsets/);
});
