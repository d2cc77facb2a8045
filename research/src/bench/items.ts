/**
 * Bench items: {task, prompt, answer} records, as JSONL (one per line) or a JSON array (or an object
 * with an `items` array), the format the Python toolkit exports its test splits in.
 */
import { readFileSync } from "node:fs";
import type { TaskItem } from "../../../server/src/public";
import { UsageError } from "../../../server/src/public";

export function parseItems(text: string, file: string): TaskItem[] {
  const trimmed = text.trim();
  let raw: unknown[];
  if (trimmed.startsWith("[") || trimmed.startsWith("{\"items\"")) {
    const v = JSON.parse(trimmed) as unknown;
    raw = Array.isArray(v) ? v : ((v as { items?: unknown[] }).items ?? []);
  } else {
    raw = trimmed
      .split(/\r?\n/)
      .filter((l) => l.trim() !== "")
      .map((l, i) => {
        try {
          return JSON.parse(l) as unknown;
        } catch {
          throw new UsageError(`${file}:${i + 1}: not a JSON object`);
        }
      });
  }
  return raw.map((r, i) => {
    const o = r as Partial<TaskItem>;
    if (typeof o?.task !== "string" || typeof o.prompt !== "string" || typeof o.answer !== "string") {
      throw new UsageError(`${file}: item ${i + 1}: expected {"task": string, "prompt": string, "answer": string}`);
    }
    return { task: o.task, prompt: o.prompt, answer: o.answer };
  });
}

export function loadItems(file: string): TaskItem[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read items file ${file}: ${(e as Error).message}`);
  }
  return parseItems(text, file);
}
