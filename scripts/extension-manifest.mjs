#!/usr/bin/env node
// Writes the VS Code extension keys of package.json (main, activationEvents, contributes) and touches
// nothing else, since other parts of the project edit package.json too. Run after changing a command
// or setting: `node scripts/extension-manifest.mjs`.
import { readFileSync, writeFileSync } from "node:fs";

const file = new URL("../package.json", import.meta.url);
const pkg = JSON.parse(readFileSync(file, "utf8"));

const commands = [
  { command: "edit.generateFromPrompt", title: "Generate from Prompt", category: "EDIT" },
  { command: "edit.generateFromSelection", title: "Generate from Selection", category: "EDIT" },
  { command: "edit.showCertificates", title: "Show Stop Certificates", category: "EDIT" },
  { command: "edit.restartDaemon", title: "Restart Daemon", category: "EDIT" },
  { command: "edit.selectModelBundle", title: "Select Model Bundle", category: "EDIT" },
  { command: "edit.showLog", title: "Show Log", category: "EDIT" },
];

const properties = {
  "edit.bundlePath": {
    type: "string",
    default: "",
    scope: "machine-overridable",
    markdownDescription: "Folder of the model bundle (`bundle.json`, `model.onnx`, `tokenizer.json`, `edit-metadata.safetensors`). Empty: the embedded `edit-tiny-char` bundle. Use **EDIT: Select Model Bundle** to pick one, e.g. a LLaDA-8B ONNX export.",
  },
  "edit.executionProvider": {
    type: "string",
    enum: ["auto", "cpu", "cuda", "dml", "coreml", "webgpu"],
    enumDescriptions: ["The fastest provider available on this machine", "CPU (always available)", "NVIDIA CUDA (Linux/Windows x64, needs CUDA 12 + cuDNN 9)", "DirectML (Windows)", "CoreML (macOS)", "WebGPU"],
    default: "auto",
    description: "onnxruntime execution provider the daemon runs the model on. Changing it reloads the model.",
  },
  "edit.stopRule": {
    type: "string",
    default: "",
    markdownDescription: "Stop rule: `full`, `fixed`, `edit`, `edit-released`, `edit-subspace`, `edit-token`, `jot`, `confidence`, or an early-stop rule on a per-step commit rule such as `edit+confidence`. Empty: the task's calibrated rule from `bundle.json`.",
  },
  "edit.stopParams": {
    type: "object",
    default: {},
    additionalProperties: { type: ["number", "string", "boolean"] },
    markdownDescription: "Parameters of the stop rule, e.g. `{ \"tau\": 1.0, \"deltaFirst\": 0.05, \"omegaFirst\": 6, \"deltaLater\": 0.1, \"omegaLater\": 6, \"polishSteps\": 0 }`. Empty: the task's calibrated values.",
  },
  "edit.genLength": { type: "integer", default: 0, minimum: 0, markdownDescription: "Tokens to generate (a multiple of `#edit.blockLength#`). 0: the bundle's default." },
  "edit.blockLength": { type: "integer", default: 0, minimum: 0, description: "Block length of the semi-autoregressive sampler. 0: the bundle's default." },
  "edit.steps": { type: "integer", default: 0, minimum: 0, markdownDescription: "Total denoising forwards (a multiple of the number of blocks). 0: the bundle's default." },
  "edit.threads": {
    type: "integer",
    default: 1,
    minimum: 1,
    markdownDescription: "ONNX Runtime intra-op threads of the model session. 1 (the default) keeps the editor responsive: under contention 2 threads made the median forward 2.3x slower; on a quiet machine 2 threads saved 11 % wall time for 49 % more CPU. Changing it reloads the model.",
  },
  "edit.cache": {
    type: "string",
    enum: ["none", "prefix", "dual"],
    default: "none",
    enumDescriptions: ["Every forward computes the whole sequence (exact).", "Fast-dLLM prefix cache: the prompt and finished blocks' keys/values are cached, refreshed at each block start; with a long prompt about 10x faster per completion (docs/bench.md).", "Fast-dLLM dual cache: the masked blocks after the current one are cached too."],
    markdownDescription: "Key/value cache for inline completions and generations (a bundle exported as a cache graph; others run `none`).",
  },
  "edit.maxPromptChars": {
    type: "integer",
    default: 0,
    minimum: 0,
    markdownDescription: "Largest prompt of **Generate from Prompt/Selection** in characters, refused before it is tokenized. 0: the daemon's default (1,048,576).",
  },
  "edit.inline.minConfidence": {
    type: ["number", "null"],
    default: null,
    minimum: 0,
    maximum: 1,
    markdownDescription: "Show an inline completion only when the model is at least this confident: the mean (or minimum, `#edit.inline.confidenceStatistic#`) top-1 probability of its tokens. `null`: the threshold calibrated on the code task's val split (docs/inline-gate.md); `0`: show every completion.",
  },
  "edit.inline.confidenceStatistic": {
    type: "string",
    enum: ["mean", "min"],
    default: "mean",
    description: "How the inline confidence gate summarises the top-1 probabilities of a completion's tokens.",
  },
  "edit.debounceMs": { type: "integer", default: 150, minimum: 0, description: "Milliseconds to wait after the last keystroke before asking the daemon for an inline completion." },
  "edit.trace.server": { type: "string", enum: ["off", "messages", "verbose"], default: "off", description: "Log the JSON-RPC traffic with the daemon to the EDIT output." },
};

pkg.main = "./dist/extension.js";
pkg.activationEvents = ["onStartupFinished"];
pkg.contributes = {
  commands,
  menus: {
    "editor/context": [{ command: "edit.generateFromSelection", when: "editorHasSelection", group: "edit@1" }],
    commandPalette: [{ command: "edit.generateFromSelection", when: "editorHasSelection" }],
  },
  configuration: { title: "EDIT", properties },
};
writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
console.log("package.json: main, activationEvents, contributes updated");
