/**
 * What to do when an explicitly chosen execution provider cannot start (issue 13's frictions:
 * `--provider cuda` without the CUDA libraries printed ORT's native log and an error with no hint).
 * `auto` never needs this: it falls back to the CPU and says why (EngineInfo.providerNotes).
 */
const HINTS: Record<string, string> = {
  cuda:
    "the CUDA provider needs ONNX Runtime's provider libraries (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so, not part of the npm package) next to onnxruntime-node's binary, plus CUDA 12 and cuDNN 9; `edit-dllm doctor` shows what is missing and the command that installs it",
  dml: "DirectML runs on Windows only (x64/arm64, a DirectX 12 GPU)",
  coreml: "CoreML runs on macOS only",
  webgpu: "WebGPU (Dawn) needs a GPU driver and, on Linux, the Vulkan loader (apt install libvulkan1); `edit-dllm doctor` says what is missing",
};

/** A line for stderr after a ModelError, or "" when the provider is not one we can advise on. */
export function providerHint(provider: string | undefined): string {
  if (!provider) return "";
  const hint = HINTS[provider];
  if (!hint) return "";
  return `hint: ${hint}; or use --provider auto (falls back to the CPU and says why) or --provider cpu\n`;
}
