/**
 * Files the CLI reads and writes: `--trace` never follows a symbolic link and overwrites only with
 * `--force`; a zero-byte or cut-short model.onnx is named as such (not ONNX Runtime's C++ text); a
 * bundle.json that is not JSON is reported without echoing its content.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { microBundle, root } from "./lsp-client";

function cli(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", join(root, "server", "src", "cli.ts"), ...args], { cwd: root, encoding: "utf8" });
}

function withTemp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "edit-files-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const gen = (extra: string[]) => cli(["generate", "--bundle", microBundle, "--provider", "cpu", ...extra, "1 2 3>6"]);

test("--trace refuses an existing file without --force and never writes through a symlink", () =>
  withTemp((dir) => {
    const file = join(dir, "t.json");
    writeFileSync(file, "keep");
    const r = gen(["--trace", file]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /exists; pass --force/);
    assert.equal(readFileSync(file, "utf8"), "keep");

    const forced = gen(["--trace", file, "--force"]);
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(JSON.parse(readFileSync(file, "utf8")).rule !== undefined, true);

    const target = join(dir, "target.txt");
    writeFileSync(target, "precious");
    const link = join(dir, "link.json");
    symlinkSync(target, link);
    for (const extra of [[], ["--force"]]) {
      const l = gen(["--trace", link, ...extra]);
      assert.equal(l.status, 2, l.stderr);
      assert.match(l.stderr, /symbolic link/);
    }
    assert.equal(readFileSync(target, "utf8"), "precious");
    const fresh = join(dir, "new.json");
    assert.equal(gen(["--trace", fresh]).status, 0);
    assert.ok(existsSync(fresh));
  }));

test("a zero-byte or truncated model.onnx is reported as such, with its size", () =>
  withTemp((dir) => {
    const b = join(dir, "bundle");
    cpSync(microBundle, b, { recursive: true });
    const model = join(b, "model.onnx");
    const full = readFileSync(model).length;
    truncateSync(model, 1000);
    const t = cli(["generate", "--bundle", b, "--provider", "cpu", "1"]);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /model\.onnx is truncated \(1000 bytes; field \d+ needs \d+ more bytes\)/);
    assert.ok(full > 1000);
    truncateSync(model, 0);
    const e = cli(["generate", "--bundle", b, "--provider", "cpu", "1"]);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /model\.onnx is empty \(0 bytes\)/);
    assert.doesNotMatch(e.stderr + t.stderr, /Protobuf|onnxruntime::/);
  }));

test("a bundle.json that is not JSON is reported without its content", () =>
  withTemp((dir) => {
    const b = join(dir, "bundle");
    cpSync(microBundle, b, { recursive: true });
    writeFileSync(join(b, "bundle.json"), "SECRET-TOKEN-1234 not json at all");
    const r = cli(["generate", "--bundle", b, "--provider", "cpu", "1"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bundle\.json: expected valid JSON, found text that does not parse as JSON \(33 bytes/);
    assert.doesNotMatch(r.stderr, /SECRET/);
  }));
