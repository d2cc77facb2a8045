/**
 * The repository speaks of the project: modules by their paths here, facts by what was measured. No
 * pointer to a document that is not in the repository (a seam note under helpers/), no module
 * credited to the one who wrote it, no absolute machine path.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");
// Built from parts so this file does not match itself.
const FORBIDDEN: { what: string; re: RegExp }[] = [
  { what: "a pointer to a helpers/ note that is not in the repository", re: new RegExp(["helpers", "/seam"].join("") + "|" + ["helpers'", " seam"].join("")) },
  { what: "a module named by who wrote it", re: new RegExp("\\b" + "helper" + " [A-Z]\\b") },
  { what: "an absolute machine path", re: new RegExp("/" + "work/(shared|wt|main|briefs)/") },
];
const TEXT = /\.(ts|mjs|js|py|md|sh|json|toml|txt|yml|yaml)$/;

test("no file names a missing helpers note, a helper as author, or a machine path", (t) => {
  const ls = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" });
  if (ls.status !== 0) return t.skip("not a git checkout");
  const hits: string[] = [];
  for (const file of ls.stdout.split("\n")) {
    if (!TEXT.test(file) || file === "package-lock.json" || file === "test/docs/repo-text.test.ts") continue;
    let text: string;
    try {
      text = readFileSync(join(ROOT, file), "utf8");
    } catch {
      continue;
    }
    text.split("\n").forEach((line, i) => {
      for (const f of FORBIDDEN) if (f.re.test(line)) hits.push(`${file}:${i + 1}: ${f.what}: ${line.trim().slice(0, 120)}`);
    });
  }
  assert.deepEqual(hits, []);
});
