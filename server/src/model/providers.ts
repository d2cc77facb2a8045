/**
 * Execution-provider choice. `auto` tries, in order, the accelerators the platform's prebuilt
 * onnxruntime-node binary ships (AUTO_ORDER, from the provider table of onnxruntime-node 1.30's
 * README and the files in its bin/napi-v6/<os>/<arch>/) and always ends with cpu. Availability is
 * only known by trying to create a session, so this module only orders the candidates.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ProviderChoice } from "../engine-types";

export const PROVIDER_CHOICES: readonly ProviderChoice[] = ["auto", "cpu", "cuda", "dml", "coreml", "webgpu"];

export function isProviderChoice(s: string): s is ProviderChoice {
  return (PROVIDER_CHOICES as readonly string[]).includes(s);
}

/**
 * What `auto` tries per platform (cpu excluded, it always comes last), and why in that order. There
 * is no darwin-x64 entry: onnxruntime-node 1.30 ships no macOS x64 binary, so no package is built
 * for Intel Macs.
 */
export const AUTO_ORDER: Readonly<Record<string, { order: readonly string[]; why: string }>> = {
  "linux-x64": {
    order: ["cuda", "webgpu"],
    why: "CUDA (NVIDIA GPUs, needs CUDA 12, cuDNN 9 and ORT's CUDA provider libraries) is the binary's mature GPU provider; WebGPU (Vulkan) is experimental in onnxruntime-node, so it comes second",
  },
  "linux-arm64": { order: [], why: "the prebuilt Linux arm64 binary has the CPU provider only (no CUDA, and no WebGPU yet)" },
  "win32-x64": {
    order: ["dml", "webgpu"],
    why: "DirectML runs on any DirectX 12 GPU (NVIDIA, AMD, Intel) and ships in the package (DirectML.dll); WebGPU is experimental; CUDA is not in the Windows binary",
  },
  "win32-arm64": {
    order: ["dml", "webgpu"],
    why: "DirectML runs on the DirectX 12 GPU of Windows on Arm (e.g. Adreno) and ships in the package; WebGPU is experimental",
  },
  "darwin-arm64": {
    order: ["coreml", "webgpu"],
    why: "CoreML runs on Apple silicon's GPU and Neural Engine and is built into the binary; WebGPU (Metal) is experimental",
  },
};

/** Accelerators worth trying for `auto`, best first, on a platform/arch (cpu excluded). */
export function autoAccelerators(platform: NodeJS.Platform, arch: string): string[] {
  return [...(AUTO_ORDER[`${platform}-${arch}`]?.order ?? [])];
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

/** The one command that installs ORT's CUDA provider libraries (npm skips them: .npmrc, offline installs). */
// scripts/install-cuda-provider.mjs runs onnxruntime-node's installer (ONNXRUNTIME_NODE_INSTALL=cuda12) and, offline,
// says what failed and which files to copy by hand instead of ending in a stack trace.
export const CUDA_SETUP_COMMAND = "npm run install:cuda";

/** CUDA 12 runtime libraries ORT's CUDA provider loads (CUDA 12.x + cuDNN 9), and the driver's. */
const CUDA_SYSTEM_LIBS: readonly { lib: string; hint: string }[] = [
  { lib: "libcuda.so.1", hint: "the NVIDIA driver" },
  { lib: "libcudart.so.12", hint: "the CUDA 12 runtime (e.g. pip install nvidia-cuda-runtime-cu12)" },
  { lib: "libcublasLt.so.12", hint: "cuBLAS for CUDA 12 (e.g. pip install nvidia-cublas-cu12)" },
  { lib: "libcudnn.so.9", hint: "cuDNN 9 for CUDA 12 (e.g. pip install nvidia-cudnn-cu12)" },
];

export interface ProviderStatus {
  provider: string;
  /** true: nothing missing that can be seen; false: skipped by `auto` or bound to fail; null: only session creation can tell. */
  usable: boolean | null;
  /** Why, in words a user can act on ("libcudnn.so.9 not found: ..."). */
  reason: string;
}

/** What the report looks at; tests pass their own. */
export interface ProviderEnv {
  platform: NodeJS.Platform;
  arch: string;
  /** Backends the loaded binding lists (ort.listSupportedBackends()). */
  supported: readonly string[];
  /** Folder of ORT's native binding (where the CUDA provider libraries must be), or null when unknown. */
  ortBinDir: string | null;
  /** Whether a shared library can be found by the dynamic loader (LD_LIBRARY_PATH, ldconfig cache, usual folders). */
  hasLibrary(name: string): boolean;
}

export function currentProviderEnv(supported: readonly string[]): ProviderEnv {
  let ortBinDir: string | null = null;
  try {
    ortBinDir = join(dirname(require.resolve("onnxruntime-node/package.json")), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    ortBinDir = null;
  }
  let cache: Set<string> | null = null;
  const ldconfig = (): Set<string> => {
    if (cache) return cache;
    cache = new Set();
    try {
      const out = execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 });
      for (const line of out.split("\n")) {
        const name = line.trim().split(" ")[0];
        if (name) cache.add(name);
      }
    } catch {
      // no ldconfig (not glibc Linux): the folder search below decides
    }
    return cache;
  };
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    "/usr/local/cuda/lib64",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib64",
  ];
  return {
    platform: process.platform,
    arch: process.arch,
    supported,
    ortBinDir,
    hasLibrary: (name) => dirs.some((d) => existsSync(join(d, name))) || ldconfig().has(name),
  };
}

/**
 * Every provider `auto` could try on this platform, with why it runs or is skipped (issue 12 item 5:
 * "cuda: libcudnn.so.9 not found", "dml: not on this platform"). Ordered as `auto` tries them.
 */
export function providerReport(env: ProviderEnv): ProviderStatus[] {
  const out: ProviderStatus[] = [];
  const accelerators = autoAccelerators(env.platform, env.arch);
  for (const p of ["cuda", "dml", "coreml", "webgpu"]) {
    if (!accelerators.includes(p)) {
      const linuxArmWebgpu = p === "webgpu" && env.platform === "linux" && env.arch === "arm64";
      const reason = linuxArmWebgpu ? "not in the prebuilt linux arm64 binary (onnxruntime-node builds WebGPU for it not yet)" : `not on this platform (${env.platform} ${env.arch})`;
      out.push({ provider: p, usable: false, reason });
      continue;
    }
    if (!env.supported.includes(p)) {
      out.push({ provider: p, usable: false, reason: "not in this onnxruntime-node build (ort.listSupportedBackends())" });
      continue;
    }
    if (p === "cuda" && env.platform === "linux") {
      const providerLib = "libonnxruntime_providers_cuda.so";
      if (env.ortBinDir && !existsSync(join(env.ortBinDir, providerLib))) {
        out.push({ provider: p, usable: false, reason: `${providerLib} not found in ${env.ortBinDir}; install it with: ${CUDA_SETUP_COMMAND}` });
        continue;
      }
      const missing = CUDA_SYSTEM_LIBS.filter((l) => !env.hasLibrary(l.lib));
      if (missing.length > 0) {
        out.push({ provider: p, usable: false, reason: missing.map((l) => `${l.lib} not found (${l.hint})`).join("; ") });
        continue;
      }
      out.push({ provider: p, usable: true, reason: "provider and CUDA 12 / cuDNN 9 libraries found" });
      continue;
    }
    if (p === "webgpu" && env.platform === "linux") {
      const ok = env.hasLibrary("libvulkan.so.1");
      out.push({ provider: p, usable: ok, reason: ok ? "Vulkan loader found" : "libvulkan.so.1 not found (install the Vulkan loader, e.g. apt install libvulkan1)" });
      continue;
    }
    out.push({ provider: p, usable: null, reason: "listed by the binding; session creation decides" });
  }
  out.push({ provider: "cpu", usable: true, reason: "always available (the fallback)" });
  return out;
}
