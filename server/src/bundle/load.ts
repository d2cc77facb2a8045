/**
 * Loads a bundle directory (bundle contract: model.onnx, tokenizer.json, edit-metadata.safetensors,
 * bundle.json), validates each file and the cross-file agreements that need no model session.
 * The model-dependent checks are in `checkModelAgainstBundle`.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { BundleError } from "../errors";
import type { EditMetadata } from "../stop/context";
import { BUNDLE_FORMAT_V2, validateBundleJson, type BundleConfig } from "./bundle-json";
import { compileChatTemplate, type ChatTemplate } from "./chat-template";
import { readEditMetadata } from "./edit-metadata";
import { createTokenizer, type TextTokenizer } from "./tokenizer";
import { readBounded, requireRegularFile } from "./read-bounded";

export const BUNDLE_FILES = {
  model: "model.onnx",
  tokenizer: "tokenizer.json",
  metadata: "edit-metadata.safetensors",
  config: "bundle.json",
} as const;

export interface LoadedBundle {
  dir: string;
  config: BundleConfig;
  tokenizer: TextTokenizer;
  metadata: EditMetadata;
  modelPath: string;
  /** v2 instruct models: bundle.json chat_template, compiled (null/absent = none). */
  chat?: ChatTemplate | null;
}

export function loadBundle(dir: string): LoadedBundle {
  if (!existsSync(dir)) throw new BundleError(dir, "", "a bundle directory with the four bundle files", "no such directory");
  const configFile = join(dir, BUNDLE_FILES.config);
  // A v2 bundle converted without a LoRA adapter has no probes and no edit-metadata.safetensors.
  const withoutProbes = existsSync(configFile) && existsSync(join(dir, BUNDLE_FILES.model)) && existsSync(join(dir, BUNDLE_FILES.tokenizer))
    ? Object.keys(validateBundleJson(...readJson(configFile)).probes).length === 0
    : false;
  for (const f of Object.values(BUNDLE_FILES)) {
    if (f === BUNDLE_FILES.metadata && withoutProbes) continue;
    if (!existsSync(join(dir, f))) throw new BundleError(join(dir, f), "", "the file to exist (bundle contract)", "missing");
  }
  const config = validateBundleJson(...readJson(configFile));
  const tokFile = join(dir, BUNDLE_FILES.tokenizer);
  const tokenizer = createTokenizer(readJson(tokFile)[0], tokFile);
  const metaFile = join(dir, BUNDLE_FILES.metadata);
  const metadata: EditMetadata = withoutProbes
    ? { modules: new Map(), defaultProbe: "", header: {} }
    : readEditMetadata(readBounded(metaFile), metaFile);
  const chat = compileChatTemplate(config, tokenizer, configFile);
  const bundle = { dir, config, tokenizer, metadata, modelPath: join(dir, BUNDLE_FILES.model), chat };
  checkModelFile(bundle.modelPath);
  checkBundleFiles(bundle);
  return bundle;
}

/** bundle.json alone, validated (for callers that hold an Engine and need the generation settings or ids). */
export function readBundleConfig(dir: string): BundleConfig {
  const file = join(dir, BUNDLE_FILES.config);
  return validateBundleJson(...readJson(file));
}

/** [parsed, file, text]: the text too, so that bundle.json's numbers are reported as written. */
function readJson(file: string): [unknown, string, string] {
  // Regular files only, bounded by kind (read-bounded.ts).
  const text = readBounded(file).toString("utf8");
  try {
    return [JSON.parse(text), file, text];
  } catch (e) {
    // V8's SyntaxError quotes the text around the error: the file's content is not echoed.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new BundleError(file, "", "valid JSON", `text that does not parse as JSON (${Buffer.byteLength(text)} bytes${at ? `, first error at byte ${at}` : ""})`);
  }
}

/**
 * model.onnx is not empty and not cut short: its top-level protobuf fields (ModelProto) are walked,
 * reading only tags and lengths, and a field running past the end of the file means a truncated copy.
 * Without this check ONNX Runtime reports its internal C++ text ("Protobuf parsing failed").
 */
export function checkModelFile(file: string): void {
  // A FIFO or device would block or never end (ONNX Runtime reads the path itself): refused by name.
  const size = requireRegularFile(file).size;
  if (size === 0) throw new BundleError(file, "", "an ONNX model", "model.onnx is empty (0 bytes)");
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(10);
    let pos = 0;
    const varint = (): number | null => {
      const n = readSync(fd, buf, 0, 10, pos);
      let v = 0;
      for (let i = 0, mul = 1; i < n; i++, mul *= 128) {
        v += (buf[i] & 0x7f) * mul;
        if ((buf[i] & 0x80) === 0) {
          pos += i + 1;
          return v;
        }
      }
      return null;
    };
    const truncated = (why: string) => new BundleError(file, "", "a complete ONNX model", `model.onnx is truncated (${size} bytes; ${why})`);
    while (pos < size) {
      const tag = varint();
      if (tag === null) throw truncated("it ends inside a field tag");
      const wire = tag & 7;
      if (wire === 0) {
        if (varint() === null) throw truncated(`it ends inside field ${Math.floor(tag / 8)}`);
      } else if (wire === 2) {
        const len = varint();
        if (len === null || pos + len > size) throw truncated(`field ${Math.floor(tag / 8)} needs ${len === null ? "more" : pos + len - size} more bytes`);
        pos += len;
      } else if (wire === 1 || wire === 5) {
        pos += wire === 1 ? 8 : 4;
        if (pos > size) throw truncated(`it ends inside field ${Math.floor(tag / 8)}`);
      } else {
        throw new BundleError(file, "", "an ONNX model (protobuf ModelProto)", `bytes that are not protobuf at offset ${pos} (wire type ${wire})`);
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Agreements between tokenizer.json, edit-metadata.safetensors and bundle.json. */
export function checkBundleFiles(b: LoadedBundle): void {
  const { config, tokenizer, metadata, dir } = b;
  const tokFile = join(dir, BUNDLE_FILES.tokenizer);
  const metaFile = join(dir, BUNDLE_FILES.metadata);
  const configFile = join(dir, BUNDLE_FILES.config);
  // v2: released checkpoints pad the embedding past the tokenizer (LLaDA: 126,349 ids, 126,464 rows).
  const v2 = config.format === BUNDLE_FORMAT_V2;
  if (v2 ? tokenizer.size > config.vocab_size : tokenizer.size !== config.vocab_size) {
    const expected = v2 ? `at most ${config.vocab_size} ids (bundle.json vocab_size, the embedding rows)` : `${config.vocab_size} ids (bundle.json vocab_size)`;
    throw new BundleError(tokFile, "model.vocab + added_tokens", expected, `${tokenizer.size}`);
  }
  for (const [role, id] of Object.entries(config.ids)) {
    if (id === null || id === undefined) continue;
    if (tokenizer.tokenOf(id) === undefined) {
      throw new BundleError(tokFile, "added_tokens", `a token with id ${id} (bundle.json ids.${role})`, "none");
    }
    // The contract's special-token names: when the tokenizer has one, bundle.json must point at it.
    const named = tokenizer.idOf(`<|${role}|>`);
    if (named !== undefined && named !== id) {
      throw new BundleError(configFile, `ids.${role}`, `${named} (the id of <|${role}|> in tokenizer.json)`, String(id));
    }
  }
  for (const [out, module] of Object.entries(config.probes)) {
    if (!metadata.modules.has(module)) {
      throw new BundleError(metaFile, `tensor ${module}.u`, `present (bundle.json probes["${out}"] names module ${module})`, "missing");
    }
  }
  if (config.default_probe === null) return;
  if (!metadata.modules.has(config.default_probe)) {
    throw new BundleError(metaFile, "__metadata__.modules", `to include bundle.json default_probe ${config.default_probe}`);
  }
  if (metadata.defaultProbe !== config.default_probe) {
    throw new BundleError(configFile, "default_probe", `${metadata.defaultProbe} (edit-metadata default_probe)`, config.default_probe);
  }
}

/** What the ONNX session (and one forward) say about the model, for the checks below. */
export interface ModelFacts {
  outputNames: readonly string[];
  /** Last axis per output name: from ONNX metadata or an observed forward. */
  widths: ReadonlyMap<string, number>;
}

/** Every probe output exists; logits width == vocab_size; each probe's width == its module's u length. */
export function checkModelAgainstBundle(b: LoadedBundle, facts: ModelFacts): void {
  const modelFile = b.modelPath;
  for (const out of Object.keys(b.config.probes)) {
    if (!facts.outputNames.includes(out)) {
      throw new BundleError(modelFile, `output ${out}`, `present (bundle.json probes); outputs are ${facts.outputNames.join(", ")}`, "missing");
    }
  }
  const vocab = facts.widths.get("logits");
  if (vocab !== undefined && vocab !== b.config.vocab_size) {
    throw new BundleError(modelFile, "output logits (last axis)", `${b.config.vocab_size} (bundle.json vocab_size)`, String(vocab));
  }
  for (const [out, module] of Object.entries(b.config.probes)) {
    const width = facts.widths.get(out);
    const dOut = b.metadata.modules.get(module)!.dOut;
    if (width !== undefined && width !== dOut) {
      throw new BundleError(modelFile, `output ${out} (last axis)`, `${dOut} (length of ${module}.u in edit-metadata.safetensors)`, String(width));
    }
  }
}
