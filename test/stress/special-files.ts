/**
 * Special files through a real daemon (issue 22): a bundle whose bundle.json is a FIFO left the daemon
 * `loading` forever with edit/generate never answered; one whose tokenizer.json links to /dev/zero grew
 * it to 2.45 GB. Each must now end in `failed` naming the file, edit/generate must answer -32803, and the
 * daemon's RSS must stay near its start.
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rssMB, type Figures } from "./suites";
import { microBundle } from "../daemon/lsp-client";
import { rawInitialize, spawnRaw } from "../daemon/raw-client";

const RequestFailed = -32803;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const CASES: { name: string; file: string; make: (path: string) => void }[] = [
  { name: "bundle.json a FIFO", file: "bundle.json", make: (p) => void spawnSync("mkfifo", [p]) },
  { name: "tokenizer.json linked to /dev/zero", file: "tokenizer.json", make: (p) => symlinkSync("/dev/zero", p) },
  { name: "edit-metadata.safetensors linked to /dev/zero", file: "edit-metadata.safetensors", make: (p) => symlinkSync("/dev/zero", p) },
];

export async function specialFiles(): Promise<Figures> {
  const wrong: string[] = [];
  const extra: Record<string, number | string> = {};
  let hangs = 0;
  let lost = 0;
  let peak = 0;
  const root = mkdtempSync(join(tmpdir(), "edit-special-"));
  try {
    for (const [i, c] of CASES.entries()) {
      const dir = join(root, String(i));
      cpSync(microBundle, dir, { recursive: true });
      unlinkSync(join(dir, c.file));
      c.make(join(dir, c.file));
      const settings = { bundlePath: dir, executionProvider: "cpu" };
      const d = spawnRaw({ configuration: settings });
      try {
        await rawInitialize(d, settings);
        const t0 = performance.now();
        let s: { state?: string; message?: string } = {};
        for (let k = 0; performance.now() - t0 < 30_000; k++) {
          d.request(`s${k}`, "edit/status");
          s = ((await d.answer((x) => x.id === `s${k}`)).result ?? {}) as typeof s;
          peak = Math.max(peak, rssMB(d.child.pid));
          if (s.state === "failed" || s.state === "ready") break;
          await sleep(20);
        }
        extra[`${c.file}FailedMs`] = Math.round(performance.now() - t0);
        if (s.state !== "failed") {
          hangs++;
          wrong.push(`${c.name}: state ${s.state} after 30 s`);
          continue;
        }
        if (!s.message?.includes(c.file)) wrong.push(`${c.name}: the failure does not name ${c.file}: ${s.message}`);
        d.request("g", "edit/generate", { prompt: "1+2" });
        const a = await Promise.race([d.answer((x) => x.id === "g"), sleep(10_000).then(() => null)]);
        if (!a) lost++;
        else if (a.error?.code !== RequestFailed) wrong.push(`${c.name}: edit/generate answered ${JSON.stringify(a.error ?? a.result).slice(0, 160)}`);
      } finally {
        d.kill();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { suite: "special files (daemon)", messages: CASES.length * 2, crashes: 0, hangs, lost, wrongCodes: wrong.length, wrongExamples: wrong, rssStartMB: 0, rssEndMB: 0, rssPeakMB: Math.round(peak), extra };
}
