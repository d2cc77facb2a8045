/**
 * The model's memory footprint, checked before ONNX Runtime loads it: a bundle that cannot fit is a
 * clear error instead of the process being killed by the OOM killer half-way through session creation.
 *
 * Estimate: ORT holds one copy of the initializers (model.onnx + model.onnx.data as stored: fp32 4 B,
 * fp16 2 B, int8 ~1 B per weight) plus its arena for activations and the K/V cache. RESIDENT_FACTOR
 * covers the arena and the graph optimizer's transient copies; it errs on the generous side.
 */
import { existsSync, statSync } from "node:fs";
import { freemem, totalmem } from "node:os";
import { join } from "node:path";
import { BundleError } from "../errors";
import type { BundleConfig, ModelDtype } from "./bundle-json";

export const RESIDENT_FACTOR = 1.25;

export interface ModelFootprint {
  /** model.onnx and its external data file, when there is one. */
  files: { path: string; bytes: number }[];
  fileBytes: number;
  dtype: ModelDtype;
  /** Estimated resident bytes once the session is created (fileBytes * RESIDENT_FACTOR). */
  residentBytes: number;
}

export function modelFootprint(dir: string, config: BundleConfig): ModelFootprint {
  const files = ["model.onnx", "model.onnx.data"]
    .map((f) => join(dir, f))
    .filter((p) => existsSync(p))
    .map((path) => ({ path, bytes: statSync(path).size }));
  const fileBytes = files.reduce((s, f) => s + f.bytes, 0);
  return { files, fileBytes, dtype: config.model.dtype ?? "fp32", residentBytes: Math.ceil(fileBytes * RESIDENT_FACTOR) };
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/**
 * Refuses a model whose estimated resident size exceeds the memory available now (os.freemem(): on
 * Linux, MemAvailable, which counts reclaimable page cache). The message says what would fit.
 */
export function checkMemoryFits(fp: ModelFootprint, available = freemem(), total = totalmem()): void {
  if (fp.residentBytes <= available) return;
  const hint =
    fp.dtype === "fp32"
      ? "convert with --dtype int8 (CPU, ~1/4 of the size) or --dtype fp16 (GPU providers, 1/2)"
      : "use a machine with more memory, or a smaller model";
  throw new BundleError(
    fp.files[0]?.path ?? "model.onnx",
    "",
    `a model that fits in memory: about ${formatBytes(fp.residentBytes)} resident (${formatBytes(fp.fileBytes)} of ${fp.dtype} weights x ${RESIDENT_FACTOR})`,
    `${formatBytes(available)} available of ${formatBytes(total)}; ${hint}`,
  );
}
