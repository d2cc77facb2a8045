#!/usr/bin/env node
// `npm run install:cuda`: installs ONNX Runtime's CUDA provider libraries (libonnxruntime_providers_
// {cuda,shared,tensorrt}.so, from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet package) next to
// onnxruntime-node's binary, where `--provider cuda` looks for them. It runs onnxruntime-node's own
// install script (ONNXRUNTIME_NODE_INSTALL=cuda12) and, when that fails (offline it ends in an
// unhandled-rejection stack trace), says in one paragraph what failed and how to install by hand.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const ortDir = dirname(require.resolve("onnxruntime-node/package.json"));
const version = require("onnxruntime-node/package.json").version;
const binDir = join(ortDir, "bin", "napi-v6", process.platform, process.arch);
const script = process.env.EDIT_ORT_INSTALL_SCRIPT ?? join(ortDir, "script", "install.js");
const WANT = ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"];

function fail(msg) {
  process.stderr.write(`install:cuda: ${msg}\n`);
  process.exit(1);
}

if (process.platform !== "linux" || process.arch !== "x64") {
  fail(`ONNX Runtime's CUDA provider for Node ships for linux-x64 only; this is ${process.platform}-${process.arch} (use dml on Windows, coreml on macOS)`);
}
if (!existsSync(script)) fail(`${script} is missing (reinstall onnxruntime-node: npm ci)`);
const r = spawnSync(process.execPath, [script], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "cuda12" }, encoding: "utf8" });
const output = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
const missing = WANT.filter((f) => !existsSync(join(binDir, f)));
if (r.status === 0 && missing.length === 0) {
  process.stdout.write(`install:cuda: ${WANT.join(", ")} installed in ${binDir}; \`edit-dllm doctor\` checks CUDA 12 and cuDNN 9 next\n`);
  process.exit(0);
}
// The first line that names the error (onnxruntime-node's script throws e.g. "Error: getaddrinfo ENOTFOUND api.nuget.org").
const cause = output.split("\n").map((l) => l.trim()).find((l) => /^(\w*Error|error)\b/.test(l)) ?? `exit code ${r.status}`;
const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|certificate/i.test(output);
fail(
  `could not install ONNX Runtime's CUDA provider libraries (${cause}).\n` +
    (offline ? "  onnxruntime-node downloads them from api.nuget.org, which this machine cannot reach.\n" : "") +
    `  By hand: from the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux ${version} (a zip), copy\n` +
    `  runtimes/linux-x64/native/${WANT.join(" and ")} into\n  ${binDir}\n` +
    "  CUDA 12 and cuDNN 9 must be installed too; `edit-dllm doctor` says what is still missing.",
);
