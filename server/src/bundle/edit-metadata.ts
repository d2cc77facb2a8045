/**
 * edit-metadata.safetensors -> EditMetadata (bundle contract): per LoRA module `<m>.u` (Eq 4),
 * `<m>.subspace` (App. E), optional `<m>.ubar` (Eq 3) and `<m>.grad_rms` (App. G), plus the header.
 */
import { BundleError } from "../errors";
import type { EditMetadata, ModuleMetadata } from "../stop/context";
import { parseSafetensors, type Float32Tensor, type SafetensorsFile } from "./safetensors";

export const EDIT_METADATA_FORMAT = "edit-metadata/1";

const REQUIRED_HEADER_KEYS = [
  "format",
  "modules",
  "d_out",
  "rank",
  "k",
  "K",
  "betas",
  "eps",
  "eps_placement",
  "bias_correction",
  "lr_schedule",
  "default_probe",
] as const;

export function readEditMetadata(bytes: Uint8Array, file: string): EditMetadata {
  return editMetadataFrom(parseSafetensors(bytes, file), file);
}

export function editMetadataFrom(st: SafetensorsFile, file: string): EditMetadata {
  const header = st.metadata;
  for (const key of REQUIRED_HEADER_KEYS) {
    if (header[key] === undefined) throw new BundleError(file, `__metadata__.${key}`, "present (bundle contract)");
  }
  if (header.format !== EDIT_METADATA_FORMAT) {
    throw new BundleError(file, "__metadata__.format", `"${EDIT_METADATA_FORMAT}"`, JSON.stringify(header.format));
  }
  if (!["inside-sqrt", "outside-sqrt"].includes(header.eps_placement)) {
    throw new BundleError(file, "__metadata__.eps_placement", '"inside-sqrt" or "outside-sqrt"', header.eps_placement);
  }
  const modules = parseJsonStringList(header.modules, file, "__metadata__.modules");
  // One value, or a JSON list when modules differ (grouped-query attention: q_proj is wider than k/v_proj).
  const ranks = parseIntOrList(header.rank, file, "__metadata__.rank");
  const k = parsePositiveInt(header.k, file, "__metadata__.k");
  const dOuts = parseIntOrList(header.d_out, file, "__metadata__.d_out");
  const out = new Map<string, ModuleMetadata>();
  for (const m of modules) {
    const u = requireTensor(st, `${m}.u`, file);
    const dOut = u.data.length;
    if (u.shape.length !== 1 || !dOuts.includes(dOut)) {
      throw new BundleError(file, `tensor ${m}.u.shape`, `[${dOuts.join(" or ")}] (__metadata__.d_out)`, `[${u.shape.join(", ")}]`);
    }
    const subspace = requireTensor(st, `${m}.subspace`, file);
    expectShape(subspace, [dOut, k], `${m}.subspace`, file);
    const gradRms = requireTensor(st, `${m}.grad_rms`, file);
    expectShape(gradRms, [2], `${m}.grad_rms`, file);
    const ubarT = st.tensors.get(`${m}.ubar`);
    const rank = ubarT && ubarT.shape.length === 2 && ranks.includes(ubarT.shape[1]) ? ubarT.shape[1] : ranks[0];
    if (ubarT) expectShape(ubarT, [dOut, rank], `${m}.ubar`, file);
    out.set(m, {
      u: u.data,
      subspace: subspace.data,
      k,
      ubar: ubarT ? ubarT.data : null,
      rank,
      dOut,
      gradRms: [gradRms.data[0], gradRms.data[1]],
    });
  }
  const defaultProbe = header.default_probe;
  if (!out.has(defaultProbe)) {
    throw new BundleError(file, "__metadata__.default_probe", `one of the recorded modules (${modules.join(", ")})`, defaultProbe);
  }
  return { modules: out, defaultProbe, header: Object.freeze({ ...header }) };
}

function requireTensor(st: SafetensorsFile, name: string, file: string): Float32Tensor {
  const t = st.tensors.get(name);
  if (!t) throw new BundleError(file, `tensor ${name}`, "present (listed in __metadata__.modules)");
  return t;
}

function expectShape(t: Float32Tensor, shape: number[], name: string, file: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new BundleError(file, `tensor ${name}.shape`, `[${shape.join(", ")}]`, `[${t.shape.join(", ")}]`);
  }
}

function parsePositiveInt(s: string, file: string, field: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new BundleError(file, field, "a positive integer", JSON.stringify(s));
  return n;
}

function parseIntOrList(s: string, file: string, field: string): number[] {
  if (!s.trim().startsWith("[")) return [parsePositiveInt(s, file, field)];
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    v = null;
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x > 0)) {
    throw new BundleError(file, field, "a positive integer or a JSON list of them", JSON.stringify(s));
  }
  return v as number[];
}

function parseJsonStringList(s: string, file: string, field: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new BundleError(file, field, "a JSON list of module names", JSON.stringify(s));
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string")) {
    throw new BundleError(file, field, "a non-empty JSON list of module names", s);
  }
  return v as string[];
}
