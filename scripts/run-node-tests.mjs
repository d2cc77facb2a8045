#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's test runner (through tsx). Node 20's --test takes no globs.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const only = process.argv.slice(2);
function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "fixtures") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}
let files = walk(join(root, "test")).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (!files.length) {
  console.error("no test files found under test/");
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], {
  stdio: "inherit",
  cwd: root,
  // ONNX Runtime's telemetry off in every test process (server/src/privacy.ts says why).
  env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" },
});
process.exit(r.status ?? 1);
