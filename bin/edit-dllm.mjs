#!/usr/bin/env node
// The `edit-dllm` command: loads the esbuild bundle dist/cli.js (run `npm run build` first).
import { createRequire } from "node:module";

// ONNX Runtime's telemetry off before dist/cli.js loads onnxruntime-node (server/src/privacy.ts says why).
process.env.ORT_DISABLE_TELEMETRY = "1";
const require = createRequire(import.meta.url);
const { main } = require("../dist/cli.js");
const code = await main(process.argv.slice(2));
// serve returns -1 and keeps running until its client disconnects.
if (code !== -1) process.exitCode = code;
