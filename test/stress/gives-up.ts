/**
 * The worker gives up (issue 22): a real daemon whose inference worker ends at every generation
 * (fault injection, EDIT_DLLM_FAULT=worker-exit-on-generate, worker/engine-worker.ts). Each of the first
 * crashes answers -32803 and restarts the worker; after the fourth within a minute the engine gives up:
 * `edit/status` must say `failed` with the cause, an `edit/status/didChange` with `failed` must have
 * been sent, later requests answer -32803 naming the restart, and a new bundle path (a reload) must
 * bring the status back to `ready`.
 */
import type { Figures } from "./suites";
import { microBundle } from "../daemon/lsp-client";
import { rawInitialize, spawnRaw } from "../daemon/raw-client";

const RequestFailed = -32803;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function givesUp(): Promise<Figures> {
  const settings = { bundlePath: microBundle, executionProvider: "cpu" };
  const d = spawnRaw({ configuration: settings, env: { ...process.env, EDIT_DLLM_FAULT: "worker-exit-on-generate" } });
  const wrong: string[] = [];
  let messages = 0;
  let lost = 0;
  const status = async (id: string): Promise<{ state?: string; message?: string }> => {
    messages++;
    d.request(id, "edit/status");
    return ((await d.answer((x) => x.id === id)).result ?? {}) as { state?: string; message?: string };
  };
  try {
    await rawInitialize(d, settings);
    for (let i = 0; (await status(`ready-${i}`)).state !== "ready"; i++) {
      if (i > 500) throw new Error(`the daemon did not load the micro bundle: ${d.stderr()}`);
      await sleep(20);
    }
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) {
      messages++;
      d.request(`g${i}`, "edit/generate", { prompt: "1+2" });
      const a = await Promise.race([d.answer((x) => x.id === `g${i}`), sleep(30_000).then(() => null)]);
      if (!a) lost++;
      else if (a.error?.code !== RequestFailed) wrong.push(`generate ${i}: ${JSON.stringify(a.error ?? a.result).slice(0, 160)}, expected -32803`);
      else if (i === 4 && !/restart the daemon/.test(a.error.message)) wrong.push(`generate after giving up: "${a.error.message}" does not name the restart`);
    }
    const s = await status("after");
    const failedMs = performance.now() - t0;
    if (s.state !== "failed" || !/crashed 4 times/.test(s.message ?? "")) wrong.push(`edit/status after giving up: ${JSON.stringify(s)}`);
    const notified = d.notifications.some((n) => n.method === "edit/status/didChange" && (n.params as { state?: string }).state === "failed");
    if (!notified) wrong.push("no edit/status/didChange with state failed");
    // Recovery: a new bundle path reloads the model.
    messages++;
    d.notify("workspace/didChangeConfiguration", { settings: { edit: { ...settings, bundlePath: microBundle + "/" } } });
    let back = "";
    for (let i = 0; i < 500 && back !== "ready"; i++) {
      back = (await status(`back-${i}`)).state ?? "";
      if (back !== "ready") await sleep(20);
    }
    if (back !== "ready") wrong.push(`after a new bundle path the state is ${back}, expected ready`);
    messages++;
    d.request("sd", "shutdown");
    d.notify("exit");
    const code = await Promise.race([d.exited, sleep(10_000).then(() => "hang" as const)]);
    if (code !== 0) wrong.push(`exit code after shutdown: ${code}`);
    return {
      suite: "worker gives up",
      messages,
      crashes: d.child.signalCode !== null ? 1 : 0,
      hangs: code === "hang" ? 1 : 0,
      lost,
      wrongCodes: wrong.length,
      wrongExamples: wrong,
      rssStartMB: 0,
      rssEndMB: 0,
      rssPeakMB: 0,
      extra: { workerCrashes: 4, failedAfterMs: Math.round(failedMs), statusFailedNotified: notified ? "yes" : "no", recoveredTo: back },
    };
  } finally {
    d.kill();
  }
}
