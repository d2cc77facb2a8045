#!/usr/bin/env node
// `npm run test:e2e`: the extension in a real VS Code. Installs code-server + Node 24 into a cache
// outside the tree (test/e2e/cache.mjs, reused), packages the .vsix (scripts/package.mjs), installs
// it into a temporary extensions folder, starts code-server on 127.0.0.1 with a free port and a
// temporary user-data folder, and drives the workbench with playwright-core + Debian chromium
// through the scenarios in test/e2e/scenarios.mjs, on the embedded model. Screenshots go to
// test-output/. Exit code 0 only when every scenario passed.
//
// EDIT_E2E_KEEP=1 keeps the temporary folders; EDIT_E2E_ONLY=name,name runs some scenarios only.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { ensureTools } from "./cache.mjs";
import { STATUS_RECORDER, editLog, sleep, until } from "./workbench.mjs";
import { SCENARIOS } from "./scenarios.mjs";

const root = new URL("../..", import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const outDir = join(root, "test-output");
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const BASE_SETTINGS = {
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "update.mode": "none",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "chat.disableAIFeatures": true,
  "git.enabled": false,
  "files.autoSave": "off",
  // Only our inline suggestions: no word-based suggest widget competing for Tab.
  "editor.quickSuggestions": { other: "off", comments: "off", strings: "off" },
  "editor.suggestOnTriggerCharacters": false,
  "editor.wordBasedSuggestions": "off",
  "editor.inlineSuggest.enabled": true,
  // Keystrokes land as typed: no auto-indent or auto-closing to account for in the asserted text.
  "editor.autoIndent": "none",
  "editor.autoClosingBrackets": "never",
  "editor.autoClosingQuotes": "never",
  "editor.autoSurround": "never",
  "editor.formatOnType": false,
  "edit.executionProvider": "cpu",
  "edit.debounceMs": 50,
  // The embedded toy model is rarely confident: show everything so the UI path can be seen.
  "edit.inline.minConfidence": 0,
};

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH`);
  const tools = ensureTools();
  console.log(`e2e: tools ready (${elapsed()})`);

  const base = mkdtempSync(join(tmpdir(), "edit-e2e-"));
  const dirs = { base, userData: join(base, "user-data"), extensions: join(base, "extensions"), workspace: join(base, "workspace"), home: join(base, "home") };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userData, "User"), { recursive: true });
  mkdirSync(outDir, { recursive: true });
  let server = null;
  let browser = null;
  const results = [];
  try {
    const vsix = join(base, "edit-dllm.vsix");
    const pkg = spawnSync(process.execPath, [join(root, "scripts/package.mjs"), "--target", `${process.platform}-${process.arch}`, "--out", vsix], { cwd: root, encoding: "utf8" });
    if (pkg.status !== 0) throw new Error(`packaging the .vsix failed:\n${pkg.stdout}\n${pkg.stderr}`);
    console.log(`e2e: packaged ${vsix} (${elapsed()})`);

    // code-server writes its config and state under HOME/XDG: keep them in the temp folder.
    const env = {
      ...process.env,
      HOME: dirs.home,
      XDG_CONFIG_HOME: join(dirs.home, ".config"),
      XDG_DATA_HOME: join(dirs.home, ".local/share"),
      XDG_CACHE_HOME: join(dirs.home, ".cache"),
      ORT_DISABLE_TELEMETRY: "1",
      OMP_NUM_THREADS: "1",
    };
    const common = ["--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions, "--config", join(base, "config.yaml")];
    writeFileSync(join(base, "config.yaml"), "auth: none\ncert: false\n");
    const inst = spawnSync(tools.node24, [tools.entry, ...common, "--install-extension", vsix], { env, encoding: "utf8" });
    if (inst.status !== 0 || !/successfully installed/.test(inst.stdout)) throw new Error(`--install-extension failed:\n${inst.stdout}\n${inst.stderr}`);
    console.log(`e2e: extension installed (${elapsed()})`);

    writeFileSync(join(dirs.userData, "User/settings.json"), JSON.stringify(BASE_SETTINGS, null, 2));
    mkdirSync(join(dirs.workspace, ".vscode"));
    writeFileSync(join(dirs.workspace, ".vscode/settings.json"), JSON.stringify({ "edit.genLength": 0 }, null, 1));
    writeFileSync(
      join(dirs.workspace, "counter.py"),
      ["class Counter:", "    def __init__(self):", "        self.count = 0", "", "    def inc(self):", "        return self"].join("\n"),
    );

    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const serverLog = [];
    server = spawn(
      tools.node24,
      [tools.entry, ...common, "--auth", "none", "--bind-addr", `127.0.0.1:${port}`, "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override", dirs.workspace],
      { env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    server.stdout.on("data", (b) => serverLog.push(String(b)));
    server.stderr.on("data", (b) => serverLog.push(String(b)));
    await until(async () => (await fetch(origin + "/healthz").catch(() => null))?.ok, "code-server to answer /healthz", 60000, 250);
    console.log(`e2e: code-server ${origin} (${elapsed()})`);

    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.addInitScript(STATUS_RECORDER);
    await page.goto(`${origin}/?folder=${encodeURIComponent(dirs.workspace)}`);
    await page.locator(".monaco-workbench").waitFor({ state: "visible", timeout: 60000 });
    console.log(`e2e: workbench loaded (${elapsed()})`);

    const ctx = { page, dirs, root, outDir, settingsFile: join(dirs.userData, "User/settings.json"), workspaceSettingsFile: join(dirs.workspace, ".vscode/settings.json"), baseSettings: BASE_SETTINGS, serverLog };
    const only = (process.env.EDIT_E2E_ONLY ?? "").split(",").filter(Boolean);
    for (const s of SCENARIOS) {
      if (only.length && !only.includes(s.name)) continue;
      const s0 = Date.now();
      try {
        const note = await s.run(ctx);
        results.push({ name: s.name, ok: true, ms: Date.now() - s0, note });
        console.log(`ok   ${s.name} (${((Date.now() - s0) / 1000).toFixed(1)} s)${note ? `: ${note}` : ""}`);
      } catch (e) {
        results.push({ name: s.name, ok: false, ms: Date.now() - s0, note: e instanceof Error ? e.message : String(e) });
        console.log(`FAIL ${s.name} (${((Date.now() - s0) / 1000).toFixed(1)} s): ${e instanceof Error ? e.stack : e}`);
        await page.screenshot({ path: join(outDir, `e2e-fail-${s.name}.png`) }).catch(() => undefined);
        console.log(`     EDIT log, last lines:\n${editLog(dirs.userData).trim().split("\n").slice(-12).map((l) => "     | " + l).join("\n")}`);
        if (s.fatal) break;
      }
    }
  } finally {
    await browser?.close().catch(() => undefined);
    if (server?.pid) {
      try {
        process.kill(-server.pid, "SIGTERM"); // the process group: code-server, its extension host, our daemon
      } catch {}
      await sleep(500);
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {}
    }
    if (process.env.EDIT_E2E_KEEP) console.log(`e2e: kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
  const failed = results.filter((r) => !r.ok);
  writeFileSync(join(outDir, "e2e-results.json"), JSON.stringify({ total_s: (Date.now() - t0) / 1000, results }, null, 2) + "\n");
  console.log(`e2e: ${results.length - failed.length}/${results.length} scenarios passed in ${elapsed()} (test-output/e2e-results.json)`);
  return failed.length === 0 && results.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`e2e: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
