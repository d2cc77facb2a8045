/**
 * mkdtempSync for tests: every folder it makes is removed when the importing test file ends (each
 * file runs in its own process, so this module-level hook belongs to that file's root).
 */
import { after } from "node:test";
import { mkdtempSync as mkdtempSyncFs, rmSync } from "node:fs";

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function mkdtempSync(prefix: string): string {
  const d = mkdtempSyncFs(prefix);
  made.push(d);
  return d;
}
