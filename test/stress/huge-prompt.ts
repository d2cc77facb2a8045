/**
 * Huge prompts (issue 22): `edit/generate` with a 10 MB and a 60 MB prompt (under the 64 MiB frame cap)
 * against a real daemon on the micro bundle. Each must answer -32602 naming both sizes, without the
 * prompt being tokenized. Figures: the time from the request's last byte written to the answer (the
 * daemon answers from the message's first 4 KiB and skips the rest unread, so the answer may come first:
 * 0 ms), and the daemon's RSS before the request and 1 s after the answer. A normal generation
 * afterwards must still answer.
 */
import type { Figures } from "./suites";
import { rssMB } from "./suites";
import { microBundle } from "../daemon/lsp-client";
import { frame, rawInitialize, spawnRaw } from "../daemon/raw-client";

const InvalidParams = -32602;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function hugePrompts(sizesMB: number[] = [10, 60]): Promise<Figures> {
  const settings = { bundlePath: microBundle, executionProvider: "cpu" };
  const d = spawnRaw({ configuration: settings });
  const wrong: string[] = [];
  const extra: Record<string, number | string> = {};
  let lost = 0;
  let messages = 0;
  let peak = 0;
  try {
    await rawInitialize(d, settings);
    for (let i = 0; ; i++) {
      d.request(`ready-${i}`, "edit/status");
      const a = await d.answer((x) => x.id === `ready-${i}`);
      if ((a.result as { state?: string }).state === "ready") break;
      if (i > 500) throw new Error(`the daemon did not load: ${d.stderr()}`);
      await sleep(20);
    }
    const rss0 = rssMB(d.child.pid);
    for (const mb of sizesMB) {
      await sleep(500);
      const before = rssMB(d.child.pid);
      const id = `huge-${mb}`;
      const body = Buffer.from(`{"jsonrpc":"2.0","id":"${id}","method":"edit/generate","params":{"prompt":"${"7".repeat(mb * 1_000_000)}"}}`);
      messages++;
      await new Promise<void>((resolve) => d.child.stdin!.write(frame(body), () => resolve()));
      const t0 = performance.now();
      const a = await Promise.race([d.answer((x) => x.id === id), sleep(60_000).then(() => null)]);
      const ms = performance.now() - t0;
      if (!a) {
        lost++;
        continue;
      }
      peak = Math.max(peak, rssMB(d.child.pid));
      await sleep(1000);
      const after = rssMB(d.child.pid);
      peak = Math.max(peak, after);
      extra[`answer${mb}MBms`] = Math.round(ms * 10) / 10;
      extra[`rssGrowth${mb}MB`] = Math.round((after - before) * 10) / 10;
      if (a.error?.code !== InvalidParams || !/characters/.test(a.error.message)) wrong.push(`${mb} MB prompt: ${JSON.stringify(a.error ?? a.result).slice(0, 200)}`);
    }
    messages++;
    d.request("after", "edit/generate", { prompt: "1+2" });
    const ok = await Promise.race([d.answer((x) => x.id === "after"), sleep(60_000).then(() => null)]);
    if (!ok) lost++;
    else if (ok.error) wrong.push(`a normal generation afterwards: ${ok.error.message}`);
    return {
      suite: "huge prompts",
      messages,
      crashes: d.child.exitCode !== null || d.child.signalCode !== null ? 1 : 0,
      hangs: 0,
      lost,
      wrongCodes: wrong.length,
      wrongExamples: wrong,
      rssStartMB: Math.round(rss0),
      rssEndMB: Math.round(rssMB(d.child.pid)),
      rssPeakMB: Math.round(peak),
      extra,
    };
  } finally {
    d.kill();
  }
}
