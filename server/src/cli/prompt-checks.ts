/**
 * What `generate` says about a prompt before and after it runs (issue 13's frictions): an empty
 * prompt is an error, not an empty answer; a prompt without --task runs under the bundle's default
 * task, which is rarely what a reader of another task's example wants; characters outside the
 * model's vocabulary silently became <unk>.
 */
import { readBounded } from "../bundle/read-bounded";
import { join } from "node:path";
import { UsageError } from "../errors";

export function checkPromptNotEmpty(prompt: string): void {
  if (prompt.trim() === "") throw new UsageError("the prompt is empty: pass PROMPT as an argument or pipe it on stdin");
}

/** bundle.json ids.unk, when the bundle names one. */
export function unkIdOf(bundleDir: string): number | null {
  try {
    const ids = (JSON.parse(readBounded(join(bundleDir, "bundle.json")).toString("utf8")) as { ids?: { unk?: unknown } }).ids;
    return typeof ids?.unk === "number" ? ids.unk : null;
  } catch {
    return null;
  }
}

export interface PromptFacts {
  prompt: string;
  /** --task as given (undefined: none), and whether --raw was given. */
  task: string | undefined;
  raw: boolean;
  defaultTask: string;
  tasks: string[];
  promptIds: readonly number[];
  unkId: number | null;
}

export function promptWarnings(f: PromptFacts): string[] {
  const out: string[] = [];
  // A bundle with one task has nothing to choose between: no warning (its own examples omit --task).
  if (f.task === undefined && !f.raw && f.tasks.length > 1) {
    out.push(`no --task given: the prompt ran under the bundle's default task "${f.defaultTask}" (tasks: ${f.tasks.join(", ")}); a prompt of another task gives nonsense there`);
  }
  if (f.unkId !== null) {
    const unknown = f.promptIds.filter((id) => id === f.unkId).length;
    if (unknown > 0) {
      const suspects = [...new Set([...f.prompt].filter((c) => c.codePointAt(0)! > 0x7e))].slice(0, 8).join("");
      out.push(`${unknown} prompt token(s) are not in the model's vocabulary and became <unk>${suspects ? ` (non-ASCII characters such as "${suspects}")` : ""}`);
    }
  }
  return out;
}
