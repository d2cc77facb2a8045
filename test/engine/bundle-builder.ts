/**
 * Builds small bundles for tests from scratch: a safetensors writer (the format spec: u64 LE header
 * length, JSON header, data) and a char tokenizer JSON in the shape the Python toolkit writes.
 * The model.onnx written here is a placeholder; tests that need no ONNX pass a fake model.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TensorSpec {
  dtype?: string;
  shape: number[];
  data: number[];
}

export function buildSafetensors(tensors: Record<string, TensorSpec>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(new Float32Array(t.data).buffer);
    header[name] = { dtype: t.dtype ?? "F32", shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...chunks]);
}

export const SPECIALS = ["<|unk|>", "<|eos|>", "<|pad|>", "<|mask|>"];
export const CHARS = "0123456789+-=#;AC:";

export function charTokenizerJson(chars: string = CHARS): object {
  const vocab: Record<string, number> = {};
  SPECIALS.forEach((s, i) => (vocab[s] = i));
  for (const c of chars) vocab[c] = Object.keys(vocab).length;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<|unk|>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

export const MODULE = "blocks.0.attn.q_proj";
export const D_OUT = 4;

export function metadataTensors(dOut = D_OUT, k = 2, rank = 2): Record<string, TensorSpec> {
  return {
    [`${MODULE}.u`]: { shape: [dOut], data: Array.from({ length: dOut }, (_, i) => i + 1) },
    [`${MODULE}.subspace`]: { shape: [dOut, k], data: Array.from({ length: dOut * k }, (_, i) => (i % (k + 1) === 0 ? 1 : 0)) },
    [`${MODULE}.ubar`]: { shape: [dOut, rank], data: new Array(dOut * rank).fill(0.5) },
    [`${MODULE}.grad_rms`]: { shape: [2], data: [0.01, 0.002] },
  };
}

export function metadataHeader(dOut = D_OUT, k = 2, rank = 2): Record<string, string> {
  return {
    format: "edit-metadata/1",
    modules: JSON.stringify([MODULE]),
    d_out: String(dOut),
    rank: String(rank),
    k: String(k),
    K: "100",
    betas: "[0.9, 0.999]",
    eps: "1e-08",
    eps_placement: "inside-sqrt",
    bias_correction: "false",
    lr_schedule: '{"type": "constant", "lr": 0.001}',
    default_probe: MODULE,
  };
}

export function bundleJson(vocab = SPECIALS.length + CHARS.length): Record<string, unknown> {
  return {
    format: "edit-bundle/1",
    name: "test-bundle",
    ids: { mask: 3, eos: 1, pad: 2, unk: 0 },
    vocab_size: vocab,
    model: { d_model: D_OUT, n_layers: 1, params: 1000 },
    generation: { gen_length: 8, block_length: 4, steps: 4, schedule: "uniform" },
    probes: { [`act.${MODULE}`]: MODULE },
    default_probe: MODULE,
    tasks: {
      arith: {
        template: "A:{prompt}=",
        stop: { rule: "full", params: {} },
        certificates: { alphaHat: 0.8, q: 0.05, beta: 0.1 },
      },
    },
    default_task: "arith",
  };
}

/** Writes a complete test bundle into `dir`; `mutate` may change any part before writing. */
export function writeTestBundle(
  dir: string,
  mutate: (parts: { config: Record<string, unknown>; tokenizer: object; tensors: Record<string, TensorSpec>; header: Record<string, string> }) => void = () => {},
): string {
  mkdirSync(dir, { recursive: true });
  const parts = { config: bundleJson(), tokenizer: charTokenizerJson(), tensors: metadataTensors(), header: metadataHeader() };
  mutate(parts);
  writeFileSync(join(dir, "bundle.json"), JSON.stringify(parts.config, null, 1));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(parts.tokenizer));
  writeFileSync(join(dir, "edit-metadata.safetensors"), buildSafetensors(parts.tensors, parts.header));
  writeFileSync(join(dir, "model.onnx"), "placeholder: tests using this bundle pass a fake model");
  return dir;
}
