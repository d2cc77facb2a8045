/**
 * bundle.json validation (bundle contract). Every field is checked; a missing or ill-typed field is a
 * BundleError naming bundle.json, the dotted field path and the expected value. Unknown extra fields
 * are allowed (the Python side may add informational ones).
 */
import type { ParamValue } from "../../../protocol/lsp";
import { BundleError } from "../errors";

export const BUNDLE_FORMAT = "edit-bundle/1";

export type ScheduleName = "uniform" | "gaussian";

export interface TaskConfig {
  /** Prompt text -> model input text; "{prompt}" is replaced. */
  template: string;
  stop: { rule: string; params: Record<string, ParamValue> };
  certificates: { alphaHat: number; q: number; beta: number } | null;
}

export interface BundleConfig {
  format: typeof BUNDLE_FORMAT;
  name: string;
  ids: { mask: number; eos: number; pad: number; unk: number };
  vocab_size: number;
  model: {
    d_model: number;
    n_layers: number;
    params: number;
    /** Longest prompt + generation the model takes; null/absent = no learned limit (rotary models). */
    max_len?: number | null;
    /** Non-null iff model.onnx is the cache graph (helpers' seam §2): K/V geometry per layer. */
    cache?: { layers: number; kv_heads: number; head_dim: number } | null;
    /** Dream family: hidden i-1 predicts token i (handled inside the graph). */
    shift?: boolean;
  };
  generation: { gen_length: number; block_length: number; steps: number; schedule: ScheduleName };
  /** ONNX output name -> module name. */
  probes: Record<string, string>;
  default_probe: string;
  tasks: Record<string, TaskConfig>;
  default_task: string;
}

type Obj = Record<string, unknown>;

class Checker {
  constructor(readonly file: string) {}

  fail(field: string, expected: string, found?: unknown): never {
    throw new BundleError(this.file, field, expected, found === undefined ? "nothing (missing)" : JSON.stringify(found));
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
  int(parent: Obj, key: string, path: string, min: number): number {
    const v = parent[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) this.fail(path, `an integer >= ${min}`, v);
    return v as number;
  }
  num(parent: Obj, key: string, path: string): number {
    const v = parent[key];
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, "a finite number", v);
    return v as number;
  }
}

export function validateBundleJson(raw: unknown, file: string): BundleConfig {
  const c = new Checker(file);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) c.fail("", "a JSON object", raw);
  const root = raw as Obj;
  if (root.format !== BUNDLE_FORMAT) c.fail("format", `"${BUNDLE_FORMAT}"`, root.format);
  const name = c.str(root, "name", "name");

  const idsObj = c.obj(root, "ids", "ids");
  const ids = {
    mask: c.int(idsObj, "mask", "ids.mask", 0),
    eos: c.int(idsObj, "eos", "ids.eos", 0),
    pad: c.int(idsObj, "pad", "ids.pad", 0),
    unk: c.int(idsObj, "unk", "ids.unk", 0),
  };
  const vocab_size = c.int(root, "vocab_size", "vocab_size", 1);
  for (const [k, v] of Object.entries(ids)) {
    if (v >= vocab_size) c.fail(`ids.${k}`, `an id < vocab_size (${vocab_size})`, v);
  }

  const m = c.obj(root, "model", "model");
  const model = {
    d_model: c.int(m, "d_model", "model.d_model", 1),
    n_layers: c.int(m, "n_layers", "model.n_layers", 1),
    params: c.int(m, "params", "model.params", 1),
    max_len: m.max_len === undefined || m.max_len === null ? null : c.int(m, "max_len", "model.max_len", 2),
    cache: m.cache === undefined || m.cache === null ? null : validateCache(c, c.obj(m, "cache", "model.cache")),
    shift: m.shift === undefined ? false : m.shift === true ? true : m.shift === false ? false : c.fail("model.shift", "true or false", m.shift),
  };

  const g = c.obj(root, "generation", "generation");
  const generation = {
    gen_length: c.int(g, "gen_length", "generation.gen_length", 1),
    block_length: c.int(g, "block_length", "generation.block_length", 1),
    steps: c.int(g, "steps", "generation.steps", 1),
    schedule: g.schedule as ScheduleName,
  };
  if (generation.schedule !== "uniform" && generation.schedule !== "gaussian") {
    c.fail("generation.schedule", '"uniform" or "gaussian"', g.schedule);
  }
  checkBlockGeometry(generation, (field, expected, found) => c.fail(`generation.${field}`, expected, found));

  const p = c.obj(root, "probes", "probes");
  const probes: Record<string, string> = {};
  for (const out of Object.keys(p)) probes[out] = c.str(p, out, `probes.${out}`);
  if (Object.keys(probes).length === 0) c.fail("probes", "at least one ONNX output -> module entry", p);
  const default_probe = c.str(root, "default_probe", "default_probe");
  if (!Object.values(probes).includes(default_probe)) {
    c.fail("default_probe", `one of the probe modules (${Object.values(probes).join(", ")})`, default_probe);
  }

  const t = c.obj(root, "tasks", "tasks");
  const tasks: Record<string, TaskConfig> = {};
  for (const taskName of Object.keys(t)) tasks[taskName] = validateTask(c, c.obj(t, taskName, `tasks.${taskName}`), `tasks.${taskName}`);
  if (Object.keys(tasks).length === 0) c.fail("tasks", "at least one task", t);
  const default_task = c.str(root, "default_task", "default_task");
  if (!tasks[default_task]) c.fail("default_task", `one of the tasks (${Object.keys(tasks).join(", ")})`, default_task);

  return { format: BUNDLE_FORMAT, name, ids, vocab_size, model, generation, probes, default_probe, tasks, default_task };
}

function validateCache(c: Checker, o: Obj): { layers: number; kv_heads: number; head_dim: number } {
  return {
    layers: c.int(o, "layers", "model.cache.layers", 1),
    kv_heads: c.int(o, "kv_heads", "model.cache.kv_heads", 1),
    head_dim: c.int(o, "head_dim", "model.cache.head_dim", 1),
  };
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
