/**
 * Where the embedded bundle lives: models/edit-tiny-char under the package root. The root is found by
 * walking up from this file's directory to the package.json named "edit-dllm", so it works from the
 * TypeScript sources (server/src/...), from the esbuild output (dist/cli.js) and inside the .vsix.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const EMBEDDED_BUNDLE = join("models", "edit-tiny-char");
export const MICRO_BUNDLE = join("test", "fixtures", "micro-bundle");
const PACKAGE_NAME = "edit-dllm";

export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** The default bundle dir; falls back to the test micro bundle (with a warning) while the embedded one is absent. */
export function defaultBundleDir(warn: (msg: string) => void = (m) => process.stderr.write(m + "\n")): string {
  const root = packageRoot();
  const embedded = join(root, EMBEDDED_BUNDLE);
  if (existsSync(join(embedded, "bundle.json"))) return embedded;
  const micro = join(root, MICRO_BUNDLE);
  if (existsSync(join(micro, "bundle.json"))) {
    warn(`edit-dllm: warning: the embedded bundle ${embedded} is missing; using the test micro bundle ${micro}`);
    return micro;
  }
  return embedded; // loadBundle reports it missing
}
