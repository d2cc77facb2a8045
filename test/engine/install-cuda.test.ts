/**
 * `npm run install:cuda` (scripts/install-cuda-provider.mjs) when onnxruntime-node's installer cannot
 * reach NuGet: one paragraph naming the cause and the files to copy by hand, no stack trace. The
 * installer is replaced by a stand-in that fails as the real one does offline (an unhandled rejection
 * of "getaddrinfo ENOTFOUND api.nuget.org"), so the test never downloads anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync } from "../temp-dirs";

const ROOT = join(__dirname, "..", "..");

test("offline: the cause and the manual steps, exit 1, no stack trace", { skip: process.platform !== "linux" || process.arch !== "x64" ? "linux-x64 only" : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), "edit-install-cuda-"));
  const fake = join(dir, "install.js");
  writeFileSync(
    fake,
    `const e = new Error("getaddrinfo ENOTFOUND api.nuget.org"); e.code = "ENOTFOUND"; e.hostname = "api.nuget.org";\nPromise.reject(e);\n`,
  );
  const r = spawnSync(process.execPath, [join(ROOT, "scripts", "install-cuda-provider.mjs")], { encoding: "utf8", env: { ...process.env, EDIT_ORT_INSTALL_SCRIPT: fake } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^install:cuda: could not install ONNX Runtime's CUDA provider libraries \(Error: getaddrinfo ENOTFOUND api\.nuget\.org\)\.\n/);
  assert.match(r.stderr, /cannot reach/);
  assert.match(r.stderr, /Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 1\.30\.0/);
  assert.match(r.stderr, /libonnxruntime_providers_cuda\.so and libonnxruntime_providers_shared\.so into\n  .*onnxruntime-node\/bin\/napi-v6\/linux\/x64\n/);
  assert.doesNotMatch(r.stderr, /^\s+at |triggerUncaughtException|node:internal/m);
});

test("--provider cuda without its libraries: the project's error and hint, not ONNX Runtime's native log", { skip: process.platform !== "linux" ? "linux only" : false }, () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), "generate", "--bundle", join(ROOT, "test", "fixtures", "micro-bundle"), "--provider", "cuda", "--task", "arith", "1+2"], {
    encoding: "utf8",
    env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" },
  });
  if (r.status === 0) return; // a machine with CUDA set up: nothing to check
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^edit-dllm: ModelError: could not create an ONNX Runtime session .* on cuda/);
  assert.match(r.stderr, /\nhint: the CUDA provider needs/);
  assert.doesNotMatch(r.stderr, /\x1b\[|\[E:onnxruntime|provider_bridge_ort\.cc/);
});
