#!/usr/bin/env node
// Bundles the CLI/daemon (server), the research commands (research/), the VS Code client and the webview
// with esbuild into dist/.
// Entry points that do not exist yet are skipped, so the build works while parts are being written.
import { build } from "esbuild";
import { existsSync } from "node:fs";

const common = { bundle: true, sourcemap: true, logLevel: "warning" };
// The research package (eval, bench) reaches the engine only through server/src/public.ts, which it
// loads from dist/cli.js at run time: one copy of the engine, and none of the research code in cli.js.
const publicFromCli = {
  name: "public-from-cli",
  setup(b) {
    b.onResolve({ filter: /server\/src\/public$/ }, () => ({ path: "./cli.js", external: true }));
  },
};
const targets = [
  // onnxruntime-node is a native addon: it stays external and is loaded from node_modules.
  { entryPoints: ["server/src/cli.ts"], outfile: "dist/cli.js", platform: "node", format: "cjs", target: "node20", external: ["onnxruntime-node"] },
  // The daemon's inference worker (server/src/worker/engine-worker.ts), loaded beside dist/cli.js.
  { entryPoints: ["server/src/worker/engine-worker.ts"], outfile: "dist/engine-worker.js", platform: "node", format: "cjs", target: "node20", external: ["onnxruntime-node"] },
  { entryPoints: ["client/src/extension.ts"], outfile: "dist/extension.js", platform: "node", format: "cjs", target: "node20", external: ["vscode"] },
  { entryPoints: ["webview/src/main.ts"], outfile: "dist/webview.js", platform: "browser", format: "esm", target: "es2022" },
  // `edit-dllm eval` / `bench` (research/): loaded by dist/cli.js for those commands only; never packaged.
  { entryPoints: ["research/src/index.ts"], outfile: "dist/research.js", platform: "node", format: "cjs", target: "node20", external: ["onnxruntime-node"], plugins: [publicFromCli] },
];
for (const t of targets) {
  if (!existsSync(t.entryPoints[0])) continue;
  await build({ ...common, ...t });
}
