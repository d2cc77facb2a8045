/**
 * Loads a bundle directory (bundle contract: model.onnx, tokenizer.json, edit-metadata.safetensors,
 * bundle.json), validates each file and the cross-file agreements that need no model session.
 * The model-dependent checks are in `checkModelAgainstBundle`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BundleError } from "../errors";
import type { EditMetadata } from "../stop/context";
import { validateBundleJson, type BundleConfig } from "./bundle-json";
import { readEditMetadata } from "./edit-metadata";
import { createTokenizer, type TextTokenizer } from "./tokenizer";

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
}

export function loadBundle(dir: string): LoadedBundle {
  if (!existsSync(dir)) throw new BundleError(dir, "", "a bundle directory with the four bundle files", "no such directory");
  for (const f of Object.values(BUNDLE_FILES)) {
    if (!existsSync(join(dir, f))) throw new BundleError(join(dir, f), "", "the file to exist (bundle contract)", "missing");
  }
  const configFile = join(dir, BUNDLE_FILES.config);
  const config = validateBundleJson(readJson(configFile), configFile);
  const tokFile = join(dir, BUNDLE_FILES.tokenizer);
  const tokenizer = createTokenizer(readJson(tokFile), tokFile);
  const metaFile = join(dir, BUNDLE_FILES.metadata);
  const metadata = readEditMetadata(readFileSync(metaFile), metaFile);
  const bundle = { dir, config, tokenizer, metadata, modelPath: join(dir, BUNDLE_FILES.model) };
  checkBundleFiles(bundle);
  return bundle;
}

/** bundle.json alone, validated (for callers that hold an Engine and need the generation settings or ids). */
export function readBundleConfig(dir: string): BundleConfig {
  const file = join(dir, BUNDLE_FILES.config);
  return validateBundleJson(readJson(file), file);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new BundleError(file, "", "valid JSON", (e as Error).message);
  }
}

/** Agreements between tokenizer.json, edit-metadata.safetensors and bundle.json. */
export function checkBundleFiles(b: LoadedBundle): void {
  const { config, tokenizer, metadata, dir } = b;
  const tokFile = join(dir, BUNDLE_FILES.tokenizer);
  const metaFile = join(dir, BUNDLE_FILES.metadata);
  const configFile = join(dir, BUNDLE_FILES.config);
  if (tokenizer.size !== config.vocab_size) {
    throw new BundleError(tokFile, "model.vocab + added_tokens", `${config.vocab_size} ids (bundle.json vocab_size)`, `${tokenizer.size}`);
  }
  for (const [role, id] of Object.entries(config.ids)) {
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
