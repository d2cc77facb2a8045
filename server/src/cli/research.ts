/**
 * `eval` and `bench` live in the research package (research/, beside server/), never in the daemon or
 * the .vsix. A built CLI (dist/cli.js) loads dist/research.js beside it; a source run (tsx) loads
 * research/src/index.ts. Either way the specifier is computed, so esbuild does not bundle it.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { UsageError } from "../errors";

export interface ResearchCommands {
  evalCommand(argv: string[]): Promise<number>;
  benchCommand(argv: string[]): Promise<number>;
  EVAL_USAGE: string;
  BENCH_USAGE: string;
}

export async function loadResearch(command: string): Promise<ResearchCommands> {
  const candidates = [join(__dirname, "research.js"), join(__dirname, "..", "..", "..", "research", "src", "index.ts")];
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    throw new UsageError(
      `"${command}" is a research command and this installation has no research package: run it from a source checkout ` +
        `(npm ci && npm run build builds dist/research.js beside dist/cli.js)`,
    );
  }
  const mod = (await import(pathToFileURL(file).href)) as { research?: ResearchCommands; default?: { research?: ResearchCommands } };
  const r = mod.research ?? mod.default?.research;
  if (!r) throw new UsageError(`${file} does not export the research commands`);
  return r;
}
