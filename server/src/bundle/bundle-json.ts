/**
 * bundle.json validation (bundle contract). Every field is checked; a missing or ill-typed field is a
 * BundleError naming bundle.json, the dotted field path and the expected value. Unknown extra fields
 * are allowed (the Python side may add informational ones).
 */
import type { ParamValue } from "../../../protocol/lsp";
import { BundleError } from "../errors";

export const BUNDLE_FORMAT = "edit-bundle/1";
/** Format 2 (converted checkpoints): any HF tokenizer, ids from the checkpoint, chat/infill templates, dtype. */
export const BUNDLE_FORMAT_V2 = "edit-bundle/2";
export const BUNDLE_FORMATS = [BUNDLE_FORMAT, BUNDLE_FORMAT_V2] as const;
export type BundleFormat = (typeof BUNDLE_FORMATS)[number];

export const ARCHITECTURES = ["edit-tiny", "llada", "dream", "llama", "sdar", "fast-dllm-v2"] as const;
/** model.attention.mode: bidirectional (LLaDA, Dream; the default) or block-causal (SDAR, Fast-dLLM v2). */
export const ATTENTION_MODES = ["bidirectional", "block-causal"] as const;
export type AttentionMode = (typeof ATTENTION_MODES)[number];
export const MODEL_DTYPES = ["fp32", "fp16", "int8", "int4"] as const;
/** K/V dtype at the cache graph's boundary (fp16 and int4 bundles: fp16; absent = fp32, older bundles). */
export const KV_DTYPES = ["fp32", "fp16"] as const;
export type KvDtypeName = (typeof KV_DTYPES)[number];
export interface CacheConfig {
  layers: number;
  kv_heads: number;
  head_dim: number;
  kv_dtype?: KvDtypeName;
}
export type ModelDtype = (typeof MODEL_DTYPES)[number];

export type ScheduleName = "uniform" | "gaussian";

export interface TaskConfig {
  /** Prompt text -> model input text; "{prompt}" is replaced. */
  template: string;
  stop: { rule: string; params: Record<string, ParamValue> };
  certificates: { alphaHat: number; q: number; beta: number } | null;
}

export interface BundleConfig {
  format: BundleFormat;
  name: string;
  /** v2: `unk` may be null (byte-level BPE has none); `bos` is the chat template's bos_token (null when none). */
  ids: { mask: number; eos: number; pad: number; unk: number | null; bos?: number | null };
  vocab_size: number;
  model: {
    d_model: number;
    n_layers: number;
    params: number;
    /** Longest prompt + generation the model takes; null/absent = no learned limit (rotary models). */
    max_len?: number | null;
    /** Non-null iff model.onnx is the cache graph (docs/kv-cache.md): K/V geometry per layer. */
    cache?: CacheConfig | null;
    /** Dream family: hidden i-1 predicts token i (handled inside the graph). */
    shift?: boolean;
    /** v2, informational: the family the converter wrote ("edit-tiny" | "llada" | "dream" | "llama"). */
    architecture?: string;
    positions?: "learned" | "rope";
    /** Weight precision of model.onnx (default fp32); sizes the memory check. */
    dtype?: ModelDtype;
    /**
     * v2, issue 20: block-causal models (SDAR, Fast-dLLM v2) attend causally across blocks of `block_size`
     * absolute positions and bidirectionally inside one; the graph applies the mask. Absent = bidirectional.
     */
    attention?: { mode: AttentionMode; block_size: number };
    /** v2, informational: the output head is the embedding matrix (doctor's per-dtype estimate). */
    tied_head?: boolean;
  };
  /** v2: Hugging Face Jinja chat template for instruct models (rendered by chat-template.ts); null = none. */
  chat_template?: string | null;
  /** v2: where the masks go between prefix and suffix for inline completion; null = the model does not infill. */
  infill?: { template: string } | null;
  /**
   * `cache` (optional): the K/V cache mode the bundle runs fastest with at equal output, as measured
   * when it was built; the engine uses it when neither the request nor the user names one. Absent: "none".
   */
  generation: {
    gen_length: number;
    block_length: number;
    steps: number;
    schedule: ScheduleName;
    cache?: "none" | "prefix" | "dual";
    /** Fast-dLLM v2: each block is decoded in sub-blocks of this length, in order (sampler/sub-blocks.ts). */
    sub_block_length?: number;
  };
  /** ONNX output name -> module name. */
  probes: Record<string, string>;
  /** v2 converted without a LoRA adapter: no probes, null (EDIT rules unavailable; full/confidence/jot run). */
  default_probe: string | null;
  tasks: Record<string, TaskConfig>;
  default_task: string;
}

type Obj = Record<string, unknown>;

/**
 * Upper bounds for bundle.json's sizes (issue 22: max_len 1e308 was accepted). Far above any model we
 * know (LLaDA-8B: max_len 4096, vocab 126,464, d_model 4096, 32 layers), low enough that lengths and
 * buffer sizes computed from them stay exact integers.
 */
const MAX_TOKENS = 1 << 20;
const MAX_VOCAB = 1 << 24;
const MAX_WIDTH = 1 << 20;

/** The number as bundle.json writes it (the first `"key": <number>` that parses to `value`), else null. */
function writtenNumber(text: string | undefined, key: string, value: number): string | null {
  if (!text) return null;
  const re = new RegExp(`"${key.replace(/[^\w]/g, "")}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`, "g");
  for (const m of text.matchAll(re)) if (Object.is(Number(m[1]), value) || Number(m[1]) === value) return m[1]!;
  return null;
}

class Checker {
  constructor(
    readonly file: string,
    /** bundle.json's text, when known: a number is reported as written (1e400 parses to Infinity). */
    private readonly text?: string,
  ) {}

  fail(field: string, expected: string, found?: unknown): never {
    const key = field.split(".").pop() ?? field;
    const written = typeof found === "number" ? writtenNumber(this.text, key, found) : null;
    throw new BundleError(this.file, field, expected, found === undefined ? "nothing (missing)" : (written ?? JSON.stringify(found)));
  }
  obj(parent: Obj, key: string, path: string): Obj {
    const v = parent[key];
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(path, "an object", v);
    return v as Obj;
  }
  str(parent: Obj, key: string, path: string): string {
    const v = parent[key];
    if (typeof v !== "string" || v.length === 0) this.fail(path, "a non-empty string", v);
    return v as string;
  }
  /** An integer in [min, max]; max defaults to 2^53 - 1 (larger integers are not exact in JSON numbers). */
  int(parent: Obj, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = parent[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(path, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`, v);
    return v as number;
  }
  num(parent: Obj, key: string, path: string): number {
    const v = parent[key];
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, "a finite number", v);
    return v as number;
  }
}

export function validateBundleJson(raw: unknown, file: string, text?: string): BundleConfig {
  const c = new Checker(file, text);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) c.fail("", "a JSON object", raw);
  const root = raw as Obj;
  if (!(BUNDLE_FORMATS as readonly unknown[]).includes(root.format)) {
    c.fail("format", BUNDLE_FORMATS.map((f) => `"${f}"`).join(" or "), root.format);
  }
  const format = root.format as BundleFormat;
  const v2 = format === BUNDLE_FORMAT_V2;
  const name = c.str(root, "name", "name");

  const idsObj = c.obj(root, "ids", "ids");
  const optionalId = (key: string): number | null => (idsObj[key] === null ? null : c.int(idsObj, key, `ids.${key}`, 0));
  const ids: BundleConfig["ids"] = {
    mask: c.int(idsObj, "mask", "ids.mask", 0),
    eos: c.int(idsObj, "eos", "ids.eos", 0),
    pad: c.int(idsObj, "pad", "ids.pad", 0),
    unk: v2 ? optionalId("unk") : c.int(idsObj, "unk", "ids.unk", 0),
  };
  if (v2 && idsObj.bos !== undefined) ids.bos = optionalId("bos");
  const vocab_size = c.int(root, "vocab_size", "vocab_size", 1, MAX_VOCAB);
  for (const [k, v] of Object.entries(ids)) {
    if (v !== null && v !== undefined && v >= vocab_size) c.fail(`ids.${k}`, `an id < vocab_size (${vocab_size})`, v);
  }

  const m = c.obj(root, "model", "model");
  const model = {
    d_model: c.int(m, "d_model", "model.d_model", 1, MAX_WIDTH),
    n_layers: c.int(m, "n_layers", "model.n_layers", 1, MAX_WIDTH),
    params: c.int(m, "params", "model.params", 1),
    max_len: m.max_len === undefined || m.max_len === null ? null : c.int(m, "max_len", "model.max_len", 2, MAX_TOKENS),
    cache: m.cache === undefined || m.cache === null ? null : validateCache(c, c.obj(m, "cache", "model.cache")),
    shift: m.shift === undefined ? false : m.shift === true ? true : m.shift === false ? false : c.fail("model.shift", "true or false", m.shift),
    ...validateModelV2(c, m, v2),
    ...(m.attention === undefined ? {} : { attention: validateAttention(c, c.obj(m, "attention", "model.attention")) }),
    ...(m.tied_head === undefined ? {} : { tied_head: m.tied_head === true ? true : m.tied_head === false ? false : c.fail("model.tied_head", "true or false", m.tied_head) }),
  };

  const g = c.obj(root, "generation", "generation");
  const generation = {
    gen_length: c.int(g, "gen_length", "generation.gen_length", 1, MAX_TOKENS),
    block_length: c.int(g, "block_length", "generation.block_length", 1, MAX_TOKENS),
    steps: c.int(g, "steps", "generation.steps", 1, MAX_TOKENS),
    schedule: g.schedule as ScheduleName,
    ...(g.sub_block_length === undefined ? {} : { sub_block_length: c.int(g, "sub_block_length", "generation.sub_block_length", 1, MAX_TOKENS) }),
  };
  if (generation.schedule !== "uniform" && generation.schedule !== "gaussian") {
    c.fail("generation.schedule", '"uniform" or "gaussian"', g.schedule);
  }
  checkBlockGeometry(generation, (field, expected, found) => c.fail(`generation.${field}`, expected, found));
  if (g.cache !== undefined) {
    if (g.cache !== "none" && g.cache !== "prefix" && g.cache !== "dual") c.fail("generation.cache", '"none", "prefix" or "dual"', g.cache);
    Object.assign(generation, { cache: g.cache });
  }
  const bc = model.attention?.mode === "block-causal" ? model.attention.block_size : null;
  if (bc !== null && generation.block_length !== bc) {
    c.fail("generation.block_length", `the model's block size ${bc} (model.attention.block_size)`, generation.block_length);
  }
  if (bc !== null && model.cache === null) c.fail("model.cache", "the cache graph (a block-causal bundle)", null);
  if (generation.sub_block_length !== undefined && generation.block_length % generation.sub_block_length !== 0) {
    c.fail("generation.sub_block_length", `a divisor of block_length (${generation.block_length})`, generation.sub_block_length);
  }

  const p = c.obj(root, "probes", "probes");
  const probes: Record<string, string> = {};
  for (const out of Object.keys(p)) probes[out] = c.str(p, out, `probes.${out}`);
  const noProbes = Object.keys(probes).length === 0;
  if (noProbes && !v2) c.fail("probes", "at least one ONNX output -> module entry", p);
  let default_probe: string | null = null;
  if (noProbes) {
    if (root.default_probe !== null) c.fail("default_probe", "null (bundle.json has no probes)", root.default_probe);
  } else {
    default_probe = c.str(root, "default_probe", "default_probe");
    if (!Object.values(probes).includes(default_probe)) {
      c.fail("default_probe", `one of the probe modules (${Object.values(probes).join(", ")})`, default_probe);
    }
  }

  const t = c.obj(root, "tasks", "tasks");
  const tasks: Record<string, TaskConfig> = {};
  for (const taskName of Object.keys(t)) tasks[taskName] = validateTask(c, c.obj(t, taskName, `tasks.${taskName}`), `tasks.${taskName}`);
  if (Object.keys(tasks).length === 0) c.fail("tasks", "at least one task", t);
  const default_task = c.str(root, "default_task", "default_task");
  if (!tasks[default_task]) c.fail("default_task", `one of the tasks (${Object.keys(tasks).join(", ")})`, default_task);

  const templates = v2 ? validateTemplates(c, root) : {};
  return { format, name, ids, vocab_size, model, generation, probes, default_probe, tasks, default_task, ...templates };
}

/** v2 model fields: a converted bundle states its family, positions and dtype (v1: optional, checked when present). */
function validateModelV2(c: Checker, m: Obj, v2: boolean): Pick<BundleConfig["model"], "architecture" | "positions" | "dtype"> {
  const out: Pick<BundleConfig["model"], "architecture" | "positions" | "dtype"> = {};
  if (v2 && m.max_len === undefined) c.fail("model.max_len", "an integer >= 2, or null (no learned limit)", m.max_len);
  if (v2 && m.cache === undefined) c.fail("model.cache", "{layers, kv_heads, head_dim} or null (no cache graph)", m.cache);
  if (m.architecture !== undefined || v2) {
    if (!(ARCHITECTURES as readonly unknown[]).includes(m.architecture)) {
      c.fail("model.architecture", ARCHITECTURES.map((a) => `"${a}"`).join(", "), m.architecture);
    }
    out.architecture = m.architecture as string;
  }
  if (m.positions !== undefined || v2) {
    if (m.positions !== "learned" && m.positions !== "rope") c.fail("model.positions", '"learned" or "rope"', m.positions);
    out.positions = m.positions;
  }
  if (m.dtype !== undefined || v2) {
    if (!(MODEL_DTYPES as readonly unknown[]).includes(m.dtype)) c.fail("model.dtype", MODEL_DTYPES.map((d) => `"${d}"`).join(", "), m.dtype);
    out.dtype = m.dtype as ModelDtype;
  }
  return out;
}

/** model.attention: {mode, block_size}; block_size >= 1 for block-causal (absent/ignored for bidirectional). */
function validateAttention(c: Checker, a: Obj): { mode: AttentionMode; block_size: number } {
  if (!(ATTENTION_MODES as readonly unknown[]).includes(a.mode)) {
    c.fail("model.attention.mode", ATTENTION_MODES.map((x) => `"${x}"`).join(" or "), a.mode);
  }
  const mode = a.mode as AttentionMode;
  return { mode, block_size: mode === "block-causal" ? c.int(a, "block_size", "model.attention.block_size", 1) : 0 };
}

/** v2 chat and infill templates: each present (null allowed), typed, and the infill one has its three slots. */
function validateTemplates(c: Checker, root: Obj): Pick<BundleConfig, "chat_template" | "infill"> {
  let chat_template: string | null = null;
  if (root.chat_template !== null) chat_template = c.str(root, "chat_template", "chat_template");
  let infill: { template: string } | null = null;
  if (root.infill !== null) {
    const o = c.obj(root, "infill", "infill");
    const template = c.str(o, "template", "infill.template");
    for (const slot of ["{prefix}", "{gen}", "{suffix}"]) {
      if (!template.includes(slot)) c.fail("infill.template", "a string with {prefix}, {gen} and {suffix}", template);
    }
    if (template.indexOf("{gen}") !== template.lastIndexOf("{gen}")) c.fail("infill.template", "exactly one {gen}", template);
    infill = { template };
  }
  return { chat_template, infill };
}

function validateCache(c: Checker, o: Obj): CacheConfig {
  const out: CacheConfig = {
    layers: c.int(o, "layers", "model.cache.layers", 1),
    kv_heads: c.int(o, "kv_heads", "model.cache.kv_heads", 1),
    head_dim: c.int(o, "head_dim", "model.cache.head_dim", 1),
  };
  if (o.kv_dtype !== undefined) {
    if (!(KV_DTYPES as readonly unknown[]).includes(o.kv_dtype)) c.fail("model.cache.kv_dtype", KV_DTYPES.map((d) => `"${d}"`).join(", "), o.kv_dtype);
    out.kv_dtype = o.kv_dtype as KvDtypeName;
  }
  return out;
}

function validateTask(c: Checker, o: Obj, path: string): TaskConfig {
  const template = c.str(o, "template", `${path}.template`);
  if (!template.includes("{prompt}")) c.fail(`${path}.template`, 'a string containing "{prompt}"', template);
  const s = c.obj(o, "stop", `${path}.stop`);
  const rule = c.str(s, "rule", `${path}.stop.rule`);
  const rawParams = s.params === undefined ? {} : c.obj(s, "params", `${path}.stop.params`);
  const params: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(rawParams)) {
    if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean") {
      c.fail(`${path}.stop.params.${k}`, "a number, string or boolean", v);
    }
    params[k] = v;
  }
  let certificates: TaskConfig["certificates"] = null;
  if (o.certificates !== undefined) {
    const cert = c.obj(o, "certificates", `${path}.certificates`);
    certificates = {
      alphaHat: c.num(cert, "alphaHat", `${path}.certificates.alphaHat`),
      q: c.num(cert, "q", `${path}.certificates.q`),
      beta: c.num(cert, "beta", `${path}.certificates.beta`),
    };
    if (!(certificates.alphaHat >= 0 && certificates.alphaHat < 1)) {
      c.fail(`${path}.certificates.alphaHat`, "a number in [0, 1)", certificates.alphaHat);
    }
  }
  return { template, stop: { rule, params }, certificates };
}

/** Blocks must tile gen_length and the step budget must split evenly over blocks (LLaDA's asserts). */
export function checkBlockGeometry(
  g: { gen_length: number; block_length: number; steps: number },
  fail: (field: string, expected: string, found: unknown) => never,
): void {
  if (g.gen_length % g.block_length !== 0) {
    fail("block_length", `a divisor of gen_length (${g.gen_length})`, g.block_length);
  }
  const blocks = g.gen_length / g.block_length;
  if (g.steps % blocks !== 0 || g.steps < blocks) {
    fail("steps", `a positive multiple of the number of blocks (${blocks})`, g.steps);
  }
}
