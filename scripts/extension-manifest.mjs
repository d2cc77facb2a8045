#!/usr/bin/env node
// Writes the VS Code extension keys of package.json (main, activationEvents, contributes, and the
// Marketplace keys icon, categories, keywords, repository, galleryBanner) and touches nothing else,
// since other parts of the project edit package.json too. Run after changing a command, setting or
// walkthrough step: `npm run manifest`. `--check` writes nothing and exits 1 when package.json differs
// from what this script would write (test/client/manifest.test.ts runs it).
// Runs under tsx (`node --import tsx`): the stop-rule names come from the rule registry itself, so
// the edit.stopRule description cannot fall behind server/src/stop/.
import { readFileSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { listStopRules } from "../server/src/stop/registry.ts";

const file = new URL("../package.json", import.meta.url);
const text = readFileSync(file, "utf8");
const pkg = JSON.parse(text);
const check = process.argv.includes("--check");
const ruleNames = listStopRules().map((r) => `\`${r.name}\``).join(", ");

const commands = [
  { command: "edit.generateFromPrompt", title: "Generate from Prompt", category: "EDIT" },
  { command: "edit.generateFromSelection", title: "Generate from Selection", category: "EDIT" },
  { command: "edit.showCertificates", title: "Show Stop Certificates", category: "EDIT" },
  { command: "edit.restartDaemon", title: "Restart Daemon", category: "EDIT" },
  { command: "edit.selectModelBundle", title: "Select Model Bundle", category: "EDIT" },
  { command: "edit.showLog", title: "Show Log", category: "EDIT" },
  { command: "edit.getStarted", title: "Get Started", category: "EDIT" },
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
    enumDescriptions: ["DirectML then WebGPU on Windows, CoreML then WebGPU on macOS, CUDA then WebGPU on Linux x64, else the CPU", "CPU (always available)", "NVIDIA CUDA (Linux x64, needs CUDA 12 + cuDNN 9 and ONNX Runtime's CUDA provider libraries)", "DirectML (Windows)", "CoreML (macOS)", "WebGPU"],
    default: "auto",
    description: "onnxruntime execution provider the daemon runs the model on. Changing it reloads the model.",
  },
  "edit.stopRule": {
    type: "string",
    default: "",
    markdownDescription: `Stop rule: ${ruleNames}, or an early-stop rule on a per-step commit rule such as \`edit+confidence\`. Empty: the task's calibrated rule from \`bundle.json\`.`,
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
    enum: ["auto", "none", "prefix", "dual"],
    default: "auto",
    enumDescriptions: ["The mode the bundle states it is fastest with at equal output (bundle.json generation.cache; none when it states none).", "Every forward computes the whole sequence (exact).", "Fast-dLLM prefix cache: the prompt and finished blocks' keys/values are cached, refreshed at each block start; with a long prompt about 10x faster per completion (docs/bench.md).", "Fast-dLLM dual cache: the masked blocks after the current one are cached too."],
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

// The first-run walkthrough (Welcome page, "EDIT: Get Started"): what the embedded model does, the
// certificate panel on a live generation, why inline completions stay silent, and how to get a model
// that writes code. Each step's page is a markdown file under media/walkthrough/.
const walkthroughs = [
  {
    id: "edit.gettingStarted",
    title: "Get started with EDIT",
    description: "What the embedded model does in one minute, and how to get a model that writes code.",
    steps: [
      {
        id: "edit.embeddedModel",
        title: "Run the embedded model on a puzzle",
        description: "The embedded 0.87 M-parameter model solves three puzzle tasks: countdown, 4x4 sudoku and multi-step arithmetic. Pick the task countdown and type 7 3 12>33.\n[Generate from Prompt](command:edit.generateFromPrompt)",
        media: { markdown: "media/walkthrough/embedded-model.md" },
        completionEvents: ["onCommand:edit.generateFromPrompt"],
      },
      {
        id: "edit.certificates",
        title: "Watch a generation stop early",
        description: "The panel shows each forward of the last generation, where the stop rule ended each block, the forwards it saved and the EDIT certificates (Theorem 2, Theorem 4, Corollary 6).\n[Show Stop Certificates](command:edit.showCertificates)",
        media: { markdown: "media/walkthrough/certificates.md" },
        completionEvents: ["onCommand:edit.showCertificates"],
      },
      {
        id: "edit.inlineSilence",
        title: "Why inline completions stay silent",
        description: "The embedded model cannot write code, so the confidence gate hides its inline completions. The status bar item's tooltip says why the last one was not shown.\n[Open the inline gate setting](command:workbench.action.openSettings?%5B%22edit.inline.minConfidence%22%5D)",
        media: { markdown: "media/walkthrough/inline-gate.md" },
      },
      {
        id: "edit.codeModel",
        title: "Get a model that writes code",
        description: "Convert a LLaDA, Dream or DiffuCoder checkpoint into a bundle, check with edit-dllm doctor that it fits this machine, then select its folder (the edit.bundlePath setting).\n[Select Model Bundle](command:edit.selectModelBundle)",
        media: { markdown: "media/walkthrough/code-model.md" },
        completionEvents: ["onSettingChanged:edit.bundlePath"],
      },
    ],
  },
];

pkg.main = "./dist/extension.js";
pkg.activationEvents = ["onStartupFinished"];
pkg.icon = "media/icon.png";
pkg.galleryBanner = { color: "#1e1e2e", theme: "dark" };
pkg.categories = ["AI", "Machine Learning", "Visualization"];
pkg.keywords = ["diffusion", "dllm", "masked diffusion", "llada", "dream", "early stopping", "onnx", "onnxruntime", "inline completion", "local model", "offline"];
pkg.repository = { type: "git", url: "https://github.com/edit-dllm/edit-dllm.git" };
pkg.contributes = {
  commands,
  menus: {
    "editor/context": [{ command: "edit.generateFromSelection", when: "editorHasSelection", group: "edit@1" }],
    commandPalette: [{ command: "edit.generateFromSelection", when: "editorHasSelection" }],
  },
  configuration: { title: "EDIT", properties },
  walkthroughs,
};
if (check) {
  const before = JSON.parse(text);
  const stale = ["main", "activationEvents", "icon", "galleryBanner", "categories", "keywords", "repository", "contributes"].filter((k) => !isDeepStrictEqual(before[k], pkg[k]));
  if (stale.length) {
    console.error(`package.json is stale in ${stale.join(", ")}: run \`npm run manifest\` (scripts/extension-manifest.mjs) and commit the result`);
    process.exit(1);
  }
  console.log("package.json: extension keys up to date");
} else {
  writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  console.log("package.json: main, activationEvents, Marketplace keys, contributes updated");
}
