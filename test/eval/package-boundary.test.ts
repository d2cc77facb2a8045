/**
 * The research package (research/: eval and bench) reaches the engine only through its public surface
 * (server/src/public.ts), and nothing under server/ imports research code, so the daemon, the worker
 * and the .vsix (dist/cli.js, dist/engine-worker.js) contain none of it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(__dirname, "..", "..");

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1]);
}

test("research/ imports only research/, protocol/, node built-ins, npm packages and server/src/public.ts", () => {
  const bad: string[] = [];
  for (const f of tsFiles(join(root, "research", "src"))) {
    for (const spec of imports(f)) {
      if (!spec.startsWith(".")) continue;
      const target = relative(root, resolve(dirname(f), spec));
      if (target.startsWith("research/") || target.startsWith("protocol/") || target === "server/src/public") continue;
      if (target === "server/src/cli/research" && f.endsWith("index.ts")) continue; // the type it implements
      bad.push(`${relative(root, f)} -> ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test("server/ imports nothing from research/", () => {
  const bad = tsFiles(join(root, "server", "src")).flatMap((f) =>
    imports(f)
      .filter((spec) => spec.startsWith(".") && relative(root, resolve(dirname(f), spec)).startsWith("research/"))
      .map((spec) => `${relative(root, f)} -> ${spec}`),
  );
  assert.deepEqual(bad, []);
});
