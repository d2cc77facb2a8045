#!/usr/bin/env node
// `npm run package`: one platform-specific .vsix per platform onnxruntime-node ships binaries for
// (linux-x64, linux-arm64, win32-x64, win32-arm64, darwin-arm64), each with only its own native
// binaries. `-- --target linux-x64` (repeatable) builds only those; `--out-dir DIR` puts them there
// (default: the repository root); `--list` packs nothing and prints each target's file list
// (`vsce ls`), `--json` as JSON. There is no darwin-x64 package: onnxruntime-node 1.30 ships no
// macOS x64 binary (its bin/napi-v6/darwin/ holds arm64 only), and we do not fake one.
//
// Why a staging directory: onnxruntime-node ships native binaries for every platform (~290 MB), and
// a .vsix for one target needs only that target's (e.g. linux/x64: 45 MB). So we copy into a temp
// directory exactly what the extension loads at run time:
//   dist/{extension,cli,engine-worker,webview}.js, media/, models/edit-tiny-char/ (the embedded bundle),
//   node_modules/onnxruntime-node/{package.json,dist/,bin/napi-v*/<os>/<arch>/} and
//   node_modules/onnxruntime-common/{package.json,dist/}
// plus docs/marketplace.md as README.md (what the Marketplace and the Extensions view show), then run
// `vsce package --dependencies --target <target>` there (.vscodeignore drops maps and typings).
// CUDA/TensorRT provider libraries are not in the npm package (onnxruntime-node's postinstall fetches
// them from NuGet) and are therefore not in the .vsix; see docs/editor.md.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const root = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    target: { type: "string", multiple: true },
    out: { type: "string" },
    "out-dir": { type: "string" },
    list: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    "skip-build": { type: "boolean", default: false },
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
const NO_BINARY = {
  "darwin-x64": "onnxruntime-node 1.30 ships no macOS x64 binary (bin/napi-v6/darwin/ has arm64 only), so there is no package for Intel Macs",
};
const targets = (values.target ?? Object.keys(TARGETS)).flatMap((t) => t.split(",")).map((t) => t.trim()).filter(Boolean);
for (const t of targets) {
  if (NO_BINARY[t]) fail(`target "${t}": ${NO_BINARY[t]}`);
  if (!TARGETS[t]) fail(`target "${t}" has no onnxruntime-node binaries; use one of ${Object.keys(TARGETS).join(", ")}`);
}
if (values.out && targets.length !== 1) fail("--out names one file: use it with exactly one --target (or --out-dir for several)");
const log = values.json ? (m) => process.stderr.write(m + "\n") : (m) => console.log(m);

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outDir = resolve(values["out-dir"] ?? root);

if (!values["skip-build"]) {
  log("package: building dist/");
  const build = spawnSync(process.execPath, [join(root, "scripts/build.mjs")], { cwd: root, stdio: values.json ? ["ignore", "ignore", "inherit"] : "inherit" });
  if (build.status !== 0) fail("the build failed");
}
for (const f of ["dist/extension.js", "dist/cli.js", "dist/engine-worker.js", "dist/webview.js", "media/webview.css", "media/icon.png", "docs/marketplace.md"]) {
  if (!existsSync(join(root, f))) fail(`${f} is missing (after the build: its entry point does not exist yet?)`);
}
const bundleDir = join(root, "models/edit-tiny-char");
const hasBundle = existsSync(join(bundleDir, "bundle.json"));
if (!hasBundle && !values["allow-missing-bundle"]) fail("models/edit-tiny-char/bundle.json is missing: export the embedded bundle first (or pass --allow-missing-bundle for a test package)");

/** The manifest the package carries: no development-only keys, no `private` (the Marketplace refuses it). */
function packagedManifest(p) {
  const manifest = { ...p, dependencies: { "onnxruntime-node": p.dependencies["onnxruntime-node"] } };
  for (const k of ["scripts", "devDependencies", "bin", "private", "overrides", "allowScripts"]) delete manifest[k];
  return manifest;
}

function stageTarget(target) {
  const stage = mkdtempSync(join(tmpdir(), `edit-vsix-${target}-`));
  const copy = (rel, dest = rel) => {
    const src = join(root, rel);
    mkdirSync(dirname(join(stage, dest)), { recursive: true });
    cpSync(src, join(stage, dest), { recursive: true, dereference: true });
  };
  for (const f of ["dist/extension.js", "dist/cli.js", "dist/engine-worker.js", "dist/webview.js"]) copy(f);
  copy("media");
  if (hasBundle) copy("models/edit-tiny-char");
  copy("docs/marketplace.md", "README.md");
  copy("LICENSE");
  copy(".vscodeignore");
  // The Marketplace/Extensions view shows README.md: a relative link to a file left out of the
  // package would be dead there.
  const readme = readFileSync(join(stage, "README.md"), "utf8");
  for (const m of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    const link = m[1];
    if (/^(https?:|mailto:|#)/.test(link)) continue;
    if (!existsSync(join(stage, link.split("#")[0]))) fail(`docs/marketplace.md links to ${link}, which is not in the .vsix: link to it by URL or name it as plain text`);
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
  // Its one dependency is the ORT runtime, so `vsce --dependencies` (npm list --production) packs
  // exactly node_modules/onnxruntime-{node,common}.
  writeFileSync(join(stage, "package.json"), JSON.stringify(packagedManifest(pkg), null, 2) + "\n");
  // onnxruntime-node's own adm-zip/global-agent deps serve only its install script (not packed).
  const ortPkgFile = join(stage, "node_modules/onnxruntime-node/package.json");
  const ortPkg = JSON.parse(readFileSync(ortPkgFile, "utf8"));
  ortPkg.dependencies = { "onnxruntime-common": ortPkg.dependencies["onnxruntime-common"] };
  delete ortPkg.scripts;
  delete ortPkg.devDependencies;
  writeFileSync(ortPkgFile, JSON.stringify(ortPkg, null, 2) + "\n");
  return stage;
}

const vsce = join(root, "node_modules/@vscode/vsce/vsce");
const listing = {};
mkdirSync(outDir, { recursive: true });
for (const target of targets) {
  const stage = stageTarget(target);
  try {
    if (values.list) {
      const r = spawnSync(process.execPath, [vsce, "ls", "--dependencies", "--no-yarn"], { cwd: stage, encoding: "utf8" });
      if (r.status !== 0) fail(`vsce ls failed for ${target}: ${r.stderr}`);
      listing[target] = r.stdout.split("\n").filter(Boolean).sort();
      if (!values.json) log(`package: ${target}: ${listing[target].length} files\n  ${listing[target].join("\n  ")}`);
      continue;
    }
    const out = values.out ? resolve(values.out) : join(outDir, `${pkg.name}-${target}-${pkg.version}.vsix`);
    const args = ["package", "--dependencies", "--no-yarn", "--target", target, "--out", out];
    log(`package: vsce ${args.join(" ")} (in ${stage})`);
    const r = spawnSync(process.execPath, [vsce, ...args], { cwd: stage, stdio: values.json ? ["ignore", "ignore", "inherit"] : "inherit" });
    if (r.status !== 0) fail(`vsce package failed for ${target}`);
    const mb = (statSync(out).size / 1024 / 1024).toFixed(1);
    listing[target] = out;
    log(`package: ${out} (${mb} MiB, target ${target}${hasBundle ? "" : ", WITHOUT the embedded bundle"})`);
  } finally {
    if (!values["keep-staging"]) rmSync(stage, { recursive: true, force: true });
    else log(`package: staging kept at ${stage}`);
  }
}
if (values.json) process.stdout.write(JSON.stringify(listing, null, 1) + "\n");
