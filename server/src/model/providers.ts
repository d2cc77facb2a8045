/**
 * Execution-provider choice. `auto` tries, in order, the accelerators the platform's prebuilt
 * onnxruntime-node binary ships (linux x64: cuda when its libraries load, then webgpu; Windows: dml,
 * webgpu; macOS: coreml, webgpu) and always ends with cpu. Availability is only known by trying to
 * create a session, so this module only orders the candidates.
 */
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
