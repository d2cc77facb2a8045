/**
 * README.md's console examples are the program's real output: every `$ node bin/edit-dllm.mjs ...`
 * line of a ```console block is run on the embedded bundle and its stdout compared with the lines
 * printed under it in the README.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

interface Example {
  args: string[];
  expected: string;
}

/** Splits a command line the way a POSIX shell does for what the README uses: words and "double quotes". */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}

function consoleExamples(markdown: string): Example[] {
  const out: Example[] = [];
  for (const block of markdown.matchAll(/```console\n([\s\S]*?)```/g)) {
    let current: { args: string[]; lines: string[] } | null = null;
    const flush = () => {
      if (current) out.push({ args: current.args, expected: current.lines.map((l) => l + "\n").join("") });
    };
    for (const line of block[1].split("\n").slice(0, -1)) {
      if (line.startsWith("$ ")) {
        flush();
        const words = shellWords(line.slice(2));
        assert.deepEqual(words.slice(0, 2), ["node", "bin/edit-dllm.mjs"], `README example runs something else: ${line}`);
        current = { args: words.slice(2), lines: [] };
      } else {
        assert.ok(current, `README console block starts with output, not a "$ " command: ${line}`);
        current.lines.push(line);
      }
    }
    flush();
  }
  return out;
}

test("README's console examples print what the README shows", () => {
  const examples = consoleExamples(readFileSync(join(ROOT, "README.md"), "utf8"));
  assert.ok(examples.length >= 4, `expected the four task examples in README.md, found ${examples.length}`);
  for (const ex of examples) {
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "server", "src", "cli.ts"), ...ex.args], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, ORT_DISABLE_TELEMETRY: "1" },
    });
    assert.equal(r.status, 0, `edit-dllm ${ex.args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, ex.expected, `README.md shows other output for: edit-dllm ${ex.args.join(" ")}`);
  }
});
