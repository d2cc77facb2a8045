#!/usr/bin/env node
// `npm run package [-- --target linux-x64]`: a platform-specific .vsix (default: this machine's platform).
//
// Why a staging directory: onnxruntime-node ships native binaries for every platform (~290 MB), and
// a .vsix for one target needs only that target's (e.g. linux/x64: 45 MB). So we copy into a temp
// directory exactly what the extension loads at run time:
//   dist/{extension,cli,engine-worker,webview}.js, media/, models/edit-tiny-char/ (the embedded bundle),
//   node_modules/onnxruntime-node/{package.json,dist/,bin/napi-v*/<os>/<arch>/} and
//   node_modules/onnxruntime-common/{package.json,dist/}
// then run `vsce package --dependencies --target <target>` there (.vscodeignore drops maps and
// typings). CUDA/TensorRT provider libraries are not in the npm package (onnxruntime-node's
// postinstall fetches them from NuGet) and are therefore not in the .vsix; see docs/editor.md.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const root = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    target: { type: "string" },
    out: { type: "string" },
    "allow-missing-bundle": { type: "boolean", default: false },
    "keep-staging": { type: "boolean", default: false },
  },
});

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}

// vsce target -> onnxruntime-node bin folder (process.platform/process.arch).
const TARGETS = {
  "linux-x64": "linux/x64",
  "linux-arm64": "linux/arm64",
  "win32-x64": "win32/x64",
  "win32-arm64": "win32/arm64",
  "darwin-arm64": "darwin/arm64",
};
const target = values.target ?? `${process.platform}-${process.arch}`;
if (!TARGETS[target]) fail(`target "${target}" has no onnxruntime-node binaries; use one of ${Object.keys(TARGETS).join(", ")}`);

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = values.out ?? join(root, `${pkg.name}-${target}-${pkg.version}.vsix`);

console.log("package: building dist/");
const build = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) fail("the build failed");
for (const f of ["dist/extension.js", "dist/cli.js", "dist/engine-worker.js", "dist/webview.js", "media/webview.css"]) {
  if (!existsSync(join(root, f))) fail(`${f} is missing after the build (its entry point does not exist yet?)`);
}
const bundleDir = join(root, "models/edit-tiny-char");
const hasBundle = existsSync(join(bundleDir, "bundle.json"));
if (!hasBundle && !values["allow-missing-bundle"]) fail("models/edit-tiny-char/bundle.json is missing: export the embedded bundle first (or pass --allow-missing-bundle for a test package)");

const stage = mkdtempSync(join(tmpdir(), "edit-vsix-"));
const copy = (rel, dest = rel) => {
  const src = join(root, rel);
  mkdirSync(dirname(join(stage, dest)), { recursive: true });
  cpSync(src, join(stage, dest), { recursive: true, dereference: true });
};
try {
  for (const f of ["dist/extension.js", "dist/cli.js", "dist/engine-worker.js", "dist/webview.js"]) copy(f);
  copy("media");
  if (hasBundle) copy("models/edit-tiny-char");
  copy("docs/editor.md", "README.md");
  copy("LICENSE");
  copy(".vscodeignore");
  // The Marketplace/Extensions view shows README.md: a relative link to a file left out of the
  // package would be dead there.
  const readme = readFileSync(join(stage, "README.md"), "utf8");
  for (const m of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    if (!existsSync(join(stage, target.split("#")[0]))) fail(`docs/editor.md links to ${target}, which is not in the .vsix: link to it by URL or name it as plain text`);
  }
  for (const mod of ["onnxruntime-node", "onnxruntime-common"]) {
    copy(`node_modules/${mod}/package.json`);
    copy(`node_modules/${mod}/dist`);
    if (existsSync(join(root, `node_modules/${mod}/LICENSE`))) copy(`node_modules/${mod}/LICENSE`);
  }
  const binRoot = "node_modules/onnxruntime-node/bin";
  for (const napi of readdirSync(join(root, binRoot))) {
    const platformDir = `${binRoot}/${napi}/${TARGETS[target]}`;
    if (!existsSync(join(root, platformDir))) fail(`${platformDir} is missing from node_modules (reinstall onnxruntime-node)`);
    copy(platformDir);
  }
  // The manifest without the development-only keys; its one dependency is the ORT runtime, so
  // `vsce --dependencies` (npm list --production) packs exactly node_modules/onnxruntime-{node,common}.
  const manifest = { ...pkg, dependencies: { "onnxruntime-node": pkg.dependencies["onnxruntime-node"] } };
  for (const k of ["scripts", "devDependencies", "bin"]) delete manifest[k];
  writeFileSync(join(stage, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  // onnxruntime-node's own adm-zip/global-agent deps serve only its install script (not packed).
  const ortPkgFile = join(stage, "node_modules/onnxruntime-node/package.json");
  const ortPkg = JSON.parse(readFileSync(ortPkgFile, "utf8"));
  ortPkg.dependencies = { "onnxruntime-common": ortPkg.dependencies["onnxruntime-common"] };
  delete ortPkg.scripts;
  delete ortPkg.devDependencies;
  writeFileSync(ortPkgFile, JSON.stringify(ortPkg, null, 2) + "\n");

  const vsce = join(root, "node_modules/@vscode/vsce/vsce");
  const args = ["package", "--dependencies", "--no-yarn", "--target", target, "--out", out, "--allow-missing-repository"];
  console.log(`package: vsce ${args.join(" ")} (in ${stage})`);
  const r = spawnSync(process.execPath, [vsce, ...args], { cwd: stage, stdio: "inherit" });
  if (r.status !== 0) fail("vsce package failed");
  const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
  console.log(`package: ${out} (${mb} MiB, target ${target}${hasBundle ? "" : ", WITHOUT the embedded bundle"})`);
} finally {
  if (!values["keep-staging"]) rmSync(stage, { recursive: true, force: true });
  else console.log(`package: staging kept at ${stage}`);
}
