/**
 * Execution-provider choice. `auto` tries, in order, the accelerators the platform's prebuilt
 * onnxruntime-node binary ships (linux x64: cuda when its libraries load, then webgpu; Windows: dml,
 * webgpu; macOS: coreml, webgpu) and always ends with cpu. Availability is only known by trying to
 * create a session, so this module only orders the candidates.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ProviderChoice } from "../engine-types";

export const PROVIDER_CHOICES: readonly ProviderChoice[] = ["auto", "cpu", "cuda", "dml", "coreml", "webgpu"];

export function isProviderChoice(s: string): s is ProviderChoice {
  return (PROVIDER_CHOICES as readonly string[]).includes(s);
}

/** Accelerators worth trying for `auto`, best first, on a platform/arch (cpu excluded). */
export function autoAccelerators(platform: NodeJS.Platform, arch: string): string[] {
  if (platform === "linux") return arch === "x64" ? ["cuda", "webgpu"] : ["webgpu"];
  if (platform === "win32") return ["dml", "webgpu"];
  if (platform === "darwin") return ["coreml", "webgpu"];
  return [];
}

/**
 * Providers to try for a choice, in order. `supported` are the backend names the loaded binding
 * reports (ort.listSupportedBackends()); an explicit choice is tried even when unlisted so the
 * user gets ORT's own error.
 */
export function providerCandidates(
  choice: ProviderChoice,
  supported: readonly string[],
  platform: NodeJS.Platform = process.platform,
  arch: string = process.arch,
): string[] {
  if (choice !== "auto") return [choice];
  return [...autoAccelerators(platform, arch).filter((p) => supported.includes(p)), "cpu"];
}

/**
 * A cheap pre-check for `auto` on Linux: CUDA needs ORT's provider libraries next to the binding
 * (the npm install skips them unless asked), WebGPU (Dawn) needs a Vulkan loader. Elsewhere, or when
 * unsure, answer true and let session creation decide.
 */
export function acceleratorLibrariesPresent(provider: string, platform: NodeJS.Platform = process.platform): boolean {
  if (platform !== "linux") return true;
  if (provider === "cuda") {
    try {
      const pkg = dirname(require.resolve("onnxruntime-node/package.json"));
      return existsSync(join(pkg, "bin", "napi-v6", "linux", process.arch, "libonnxruntime_providers_cuda.so"));
    } catch {
      return true;
    }
  }
  if (provider === "webgpu") {
    const dirs = [
      ...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
      "/usr/lib/x86_64-linux-gnu",
      "/usr/lib/aarch64-linux-gnu",
      "/usr/lib64",
      "/usr/lib",
      "/lib/x86_64-linux-gnu",
      "/lib64",
    ];
    return dirs.some((d) => existsSync(join(d, "libvulkan.so.1")));
  }
  return true;
}
