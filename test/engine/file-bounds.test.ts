/**
 * Issue 22 item 4: bundle files are read only when regular and within the size of their kind; the
 * --trace path is checked before the model runs; bundle.json numbers are range-checked and reported as
 * written. Each case runs the real CLI on a copy of the micro bundle.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { mkdtempSync } from "../temp-dirs";
import { microBundle, root } from "../daemon/lsp-client";

const work = mkdtempSync(join(tmpdir(), "edit-files-"));
after(() => rmSync(work, { recursive: true, force: true }));

function bundleCopy(name: string): string {
  const dir = join(work, name);
  cpSync(microBundle, dir, { recursive: true });
  return dir;
}

function cli(args: string[]) {
  return spawnSync(process.execPath, ["--import", pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href, join(root, "server", "src", "cli.ts"), "generate", ...args], { cwd: work, encoding: "utf8", timeout: 60_000, env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" } });
}

test("a FIFO bundle.json and a tokenizer.json linked to /dev/zero are refused by name, without reading", () => {
  const fifo = bundleCopy("fifo");
  rmSync(join(fifo, "bundle.json"));
  assert.equal(spawnSync("mkfifo", [join(fifo, "bundle.json")]).status, 0);
  const r1 = cli(["--bundle", fifo, "1+2"]);
  assert.equal(r1.status, 1, r1.stderr);
  assert.match(r1.stderr, /bundle\.json: expected a regular file, found a FIFO/);
  const zero = bundleCopy("zero");
  rmSync(join(zero, "tokenizer.json"));
  symlinkSync("/dev/zero", join(zero, "tokenizer.json"));
  const r2 = cli(["--bundle", zero, "1+2"]);
  assert.equal(r2.status, 1, r2.stderr);
  assert.match(r2.stderr, /tokenizer\.json: expected a regular file, found a character device/);
});

test("a tokenizer.json over its kind's bound is refused with the bound and why", () => {
  const big = bundleCopy("big");
  // 64 MiB + 1 byte of JSON whitespace: a sparse-free write of 64 MiB is fine in a temp folder.
  writeFileSync(join(big, "tokenizer.json"), Buffer.alloc(64 * 1024 * 1024 + 1, 0x20));
  const r = cli(["--bundle", big, "1+2"]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /expected at most 67108864 bytes for tokenizer\.json \(.*\), found 67108865 bytes/);
});

test("bundle.json numbers: steps 1e400 is reported as written, max_len 1e308 is out of range", () => {
  const steps = bundleCopy("steps");
  const text = readFileSync(join(steps, "bundle.json"), "utf8");
  writeFileSync(join(steps, "bundle.json"), text.replace(/"steps": \d+/, '"steps": 1e400'));
  const r1 = cli(["--bundle", steps, "1+2"]);
  assert.equal(r1.status, 1);
  assert.match(r1.stderr, /generation\.steps": expected an integer from 1 to 1048576, found 1e400/);
  const maxLen = bundleCopy("maxlen");
  writeFileSync(join(maxLen, "bundle.json"), text.replace(/"d_model": 32/, '"d_model": 32, "max_len": 1e308'));
  const r2 = cli(["--bundle", maxLen, "1+2"]);
  assert.equal(r2.status, 1);
  assert.match(r2.stderr, /model\.max_len": expected an integer from 2 to 1048576, found 1e308/);
});

test("--trace: a missing folder, a symlinked parent and a hard link with --force are refused before the model runs", () => {
  const r1 = cli(["--bundle", microBundle, "--trace", "no/such/dir/t.json", "1+2"]);
  assert.equal(r1.status, 2, r1.stderr);
  assert.match(r1.stderr, /does not exist/);
  assert.doesNotMatch(r1.stderr, /    at |unexpected error/);
  assert.equal(r1.stdout, "", "refused before the model ran");
  mkdirSync(join(work, "real"));
  symlinkSync(join(work, "real"), join(work, "linked"));
  const r2 = cli(["--bundle", microBundle, "--trace", "linked/t.json", "1+2"]);
  assert.equal(r2.status, 2, r2.stderr);
  assert.match(r2.stderr, /linked is a symbolic link/);
  assert.equal(existsSync(join(work, "real", "t.json")), false);
  writeFileSync(join(work, "victim.json"), "keep");
  linkSync(join(work, "victim.json"), join(work, "t.json"));
  const r3 = cli(["--bundle", microBundle, "--trace", "t.json", "--force", "1+2"]);
  assert.equal(r3.status, 2, r3.stderr);
  assert.match(r3.stderr, /has 2 hard links/);
  assert.equal(readFileSync(join(work, "victim.json"), "utf8"), "keep");
  // A plain path still works.
  const ok = cli(["--bundle", microBundle, "--trace", "plain.json", "1+2"]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(JSON.parse(readFileSync(join(work, "plain.json"), "utf8")).totals);
});
