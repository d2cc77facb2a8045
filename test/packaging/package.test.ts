/**
 * `npm run package` (scripts/package.mjs): one .vsix per platform onnxruntime-node ships, each with
 * only its own native binaries, and a Marketplace-ready manifest. Every target's file list comes from
 * `vsce ls` on its staging folder (--list); one target (linux-x64) is packed for real and its zip
 * entries read back, so the list is known to be what a package holds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mkdtempSync } from "../temp-dirs";

const ROOT = join(__dirname, "..", "..");
const TARGETS = ["linux-x64", "linux-arm64", "win32-x64", "win32-arm64", "darwin-arm64"];
const ORT_DIR = { "linux-x64": "linux/x64", "linux-arm64": "linux/arm64", "win32-x64": "win32/x64", "win32-arm64": "win32/arm64", "darwin-arm64": "darwin/arm64" } as Record<string, string>;
const pkgScript = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "scripts", "package.mjs"), ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 });

/** The part of yauzl's API used here (it ships no types). */
interface ZipEntry {
  fileName: string;
}
interface ZipFile {
  on(ev: "entry", f: (e: ZipEntry) => void): void;
  on(ev: "end", f: () => void): void;
  readEntry(): void;
  openReadStream(e: ZipEntry, cb: (err: Error | null, s?: NodeJS.ReadableStream) => void): void;
}
interface Yauzl {
  open(file: string, opts: { lazyEntries: boolean }, cb: (err: Error | null, zip?: ZipFile) => void): void;
}

/** Entry names and the text of the named entries of a zip (yauzl: @vscode/vsce's own zip reader). */
async function readZip(file: string, want: string[]): Promise<{ names: string[]; text: Record<string, string> }> {
  const yauzl = createRequire(require.resolve("@vscode/vsce/package.json"))("yauzl") as Yauzl;
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      const text: Record<string, string> = {};
      zip.on("entry", (e) => {
        names.push(e.fileName);
        if (!want.includes(e.fileName)) return zip.readEntry();
        zip.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2);
          const chunks: Buffer[] = [];
          s.on("data", (c: Buffer) => chunks.push(c));
          s.on("end", () => {
            text[e.fileName] = Buffer.concat(chunks).toString("utf8");
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve({ names, text }));
      zip.readEntry();
    });
  });
}

let lists: Record<string, string[]> = {};

test("each platform's file list holds its own onnxruntime binaries only, and the same everything else", () => {
  const r = pkgScript(["--list", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  lists = JSON.parse(r.stdout) as Record<string, string[]>;
  assert.deepEqual(Object.keys(lists).sort(), [...TARGETS].sort());
  const common = (t: string) => lists[t].filter((f) => !f.startsWith("node_modules/onnxruntime-node/bin/"));
  for (const t of TARGETS) {
    const bins = lists[t].filter((f) => f.startsWith("node_modules/onnxruntime-node/bin/"));
    assert.ok(bins.length >= 2, `${t}: no native binaries`);
    for (const b of bins) assert.ok(b.startsWith(`node_modules/onnxruntime-node/bin/napi-v6/${ORT_DIR[t]}/`), `${t} carries ${b}`);
    assert.ok(bins.some((b) => /onnxruntime_binding\.node$/.test(b)), `${t}: no binding`);
    assert.deepEqual(common(t), common("linux-x64"), `${t}: other files differ from linux-x64's`);
  }
  assert.ok(lists["win32-x64"].some((f) => f.endsWith("/DirectML.dll")), "DirectML ships in the Windows package");
  for (const f of ["README.md", "LICENSE", "package.json", "media/icon.png", "media/walkthrough/embedded-model.md", "dist/extension.js", "dist/cli.js", "dist/engine-worker.js", "models/edit-tiny-char/model.onnx"]) {
    assert.ok(lists["linux-x64"].includes(f), `${f} missing from the package`);
  }
  assert.ok(!lists["linux-x64"].some((f) => /\.(map|ts)$|reference\//.test(f)), "no source maps, sources or reference weights");
});

test("darwin-x64 is refused by name: onnxruntime-node ships no macOS x64 binary", () => {
  const r = pkgScript(["--target", "darwin-x64", "--skip-build"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /darwin-x64.*no macOS x64 binary/);
});

test("the linux-x64 .vsix: its entries are the listed files, its manifest Marketplace-ready", { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), "edit-vsix-test-"));
  const r = pkgScript(["--target", "linux-x64", "--out-dir", out, "--skip-build"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const vsix = join(out, "edit-dllm-linux-x64-0.1.0.vsix");
  const { names, text } = await readZip(vsix, ["extension/package.json", "extension.vsixmanifest", "extension/readme.md", "extension/README.md"]);
  const files = names.filter((n) => n.startsWith("extension/")).map((n) => n.slice("extension/".length));
  // vsce stores README.md as readme.md and LICENSE as license.txt in the zip.
  const norm = (f: string) => (f === "LICENSE" ? "license.txt" : f.toLowerCase());
  assert.deepEqual(files.map((f) => f.toLowerCase()).sort(), (lists["linux-x64"] ?? []).map(norm).sort());
  const manifest = JSON.parse(text["extension/package.json"]) as Record<string, unknown>;
  for (const k of ["private", "devDependencies", "scripts", "overrides", "allowScripts", "bin"]) assert.ok(!(k in manifest), `the packaged manifest has "${k}"`);
  assert.deepEqual(manifest.dependencies, { "onnxruntime-node": "1.30.0" });
  assert.equal(manifest.icon, "media/icon.png");
  assert.ok(Array.isArray(manifest.categories) && Array.isArray(manifest.keywords));
  assert.ok((manifest.repository as { url: string }).url.startsWith("https://"));
  assert.ok(((manifest.contributes as { walkthroughs: unknown[] }).walkthroughs).length === 1);
  assert.match(text["extension.vsixmanifest"], /TargetPlatform="linux-x64"/);
  const readme = text["extension/readme.md"] ?? text["extension/README.md"];
  assert.match(readme, /^# EDIT for the editor\n/);
  assert.match(readme, /## Privacy[\s\S]*## Limits/);
  assert.doesNotMatch(readme, /npm ci|npm run/, "the Marketplace README has no build-from-source steps");
});
