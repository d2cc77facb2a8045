/**
 * The few bundle.json facts the daemon needs beyond the Engine interface: task templates (does the
 * task take a suffix?), the default lengths (progress percentages) and the model's context length
 * (how much of the document fits in front of the generated tokens). The engine validates the bundle;
 * this reader only tolerates what it does not find.
 */
import { readBounded } from "../bundle/read-bounded";
import { join } from "node:path";

export interface BundleInfo {
  templates: Record<string, string>;
  genLength: number | null;
  blockLength: number | null;
  steps: number | null;
  /** Model context length in tokens (bundle.json model.max_len), when recorded. */
  maxLen: number | null;
}

export function readBundleInfo(bundleDir: string): BundleInfo {
  const info: BundleInfo = { templates: {}, genLength: null, blockLength: null, steps: null, maxLen: null };
  let json: unknown;
  try {
    // Bounded, regular files only: a FIFO here would block the daemon's main thread (issue 22).
    json = JSON.parse(readBounded(join(bundleDir, "bundle.json")).toString("utf8"));
  } catch {
    return info;
  }
  if (typeof json !== "object" || json === null) return info;
  const b = json as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  if (typeof b.tasks === "object" && b.tasks !== null) {
    for (const [name, t] of Object.entries(b.tasks as Record<string, unknown>)) {
      const tpl = typeof t === "object" && t !== null ? (t as Record<string, unknown>).template : undefined;
      if (typeof tpl === "string") info.templates[name] = tpl;
    }
  }
  const gen = typeof b.generation === "object" && b.generation !== null ? (b.generation as Record<string, unknown>) : {};
  info.genLength = num(gen.gen_length);
  info.blockLength = num(gen.block_length);
  info.steps = num(gen.steps);
  const model = typeof b.model === "object" && b.model !== null ? (b.model as Record<string, unknown>) : {};
  info.maxLen = num(model.max_len);
  return info;
}
