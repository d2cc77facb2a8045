/**
 * The certificate panel in headless Debian Chromium: the same HTML the extension serves
 * (client/src/webviewHtml.ts) + dist/webview.js + media/webview.css from a local server, a stubbed
 * acquireVsCodeApi, a recorded trace streamed in as begin/step/trace messages.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { renderWebviewHtml } from "../../client/src/webviewHtml";
import type { GenerationTrace, StepEvent } from "../../protocol/trace";
import type { WebviewMessage } from "../../protocol/lsp";

const root = join(__dirname, "..", "..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const NONCE = "dGVzdC1ub25jZS0wMTIzNDU2Nzg5";
const trace = JSON.parse(readFileSync(join(root, "test/fixtures/traces/handmade-edit.json"), "utf8")) as GenerationTrace;
const skip = !existsSync(CHROMIUM) ? `no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)` : !existsSync(join(root, "dist/webview.js")) ? "dist/webview.js missing: run npm run build" : false;

let server: Server;
let origin = "";
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

before(async () => {
  if (skip) return;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const files: Record<string, [string, string]> = {
      "/dist/webview.js": [join(root, "dist/webview.js"), "text/javascript"],
      "/media/webview.css": [join(root, "media/webview.css"), "text/css"],
    };
    if (url.pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(renderWebviewHtml({ cspSource: origin, nonce: NONCE, scriptUri: `${origin}/dist/webview.js`, styleUri: `${origin}/media/webview.css` }));
    } else if (files[url.pathname]) {
      const [file, type] = files[url.pathname];
      res.writeHead(200, { "content-type": type });
      res.end(readFileSync(file));
    } else if (url.pathname === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 440 } });
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy/i.test(m.text())) consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  // The VS Code webview API, stubbed: records posted replies and persisted state.
  // A string, not a function: tsx's keepNames would inject a __name helper the page lacks.
  await page.addInitScript(`
    window.__posted = [];
    window.__state = undefined;
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__posted.push(m),
      getState: () => window.__state,
      setState: (s) => { window.__state = s; },
    });
  `);
  await page.goto(origin + "/");
  await page
    .waitForFunction(() => ((window as unknown as { __posted: { type: string }[] }).__posted ?? []).some((m) => m.type === "ready"), undefined, { timeout: 15000 })
    .catch((e: Error) => {
      throw new Error(`panel never replied "ready": ${e.message}; console: ${consoleErrors.join(" | ")}`);
    });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

async function post(msg: WebviewMessage): Promise<void> {
  await page.evaluate((m) => window.postMessage(m, "*"), msg);
}
async function frame(): Promise<void> {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

test("streams begin/step messages live, one bar per block", { skip }, async () => {
  await post({ type: "begin", prompt: "# add two numbers", rule: trace.rule, blocks: trace.blocks.length, blockBudget: trace.blocks[0].budget });
  await frame();
  assert.equal(await page.locator(".bar").count(), 3);
  const b0 = trace.blocks[0];
  for (const s of b0.steps.slice(0, 5)) {
    const ev: StepEvent = { block: 0, blockBudget: b0.budget, delta: b0.delta, step: s };
    await post({ type: "step", event: ev });
  }
  await frame();
  assert.equal(await page.locator('.bar[data-block="0"]').getAttribute("aria-valuenow"), "5");
  assert.equal(await page.locator('.bar[data-block="1"]').getAttribute("aria-valuenow"), "0");
  assert.match((await page.locator("#summary-text").textContent()) ?? "", /Generating… rule edit · 5\/48 forwards/);
  // Steps 3..5 have D_t, so block 0 already draws its chart with the delta line.
  assert.equal(await page.locator('.kl-chart[data-block="0"] .delta-line').count(), 1);
});

test("final trace: bars, delta lines, stop markers, certificate badges, early tokens", { skip }, async () => {
  await post({ type: "trace", trace });
  await frame();
  assert.equal(await page.locator(".bar").count(), trace.blocks.length);
  const used = await page.locator(".bar").evaluateAll((els) => els.map((e) => e.getAttribute("aria-valuenow")));
  assert.deepEqual(used, ["9", "12", "0"]);
  // Block 2 was skipped after eos: no chart; blocks 0 and 1 each draw delta and the stop step.
  assert.equal(await page.locator(".kl-chart").count(), 2);
  assert.equal(await page.locator(".kl-chart .delta-line").count(), 2);
  assert.deepEqual(await page.locator(".kl-chart .stop-label").allTextContents(), ["stop @ 9", "stop @ 12"]);
  assert.deepEqual(await page.locator(".kl-chart .delta-label").allTextContents(), ["δ = 0.001", "δ = 0.001"]);
  // One dot per defined D_t: 7 in block 0, 10 in block 1 (steps 1-2 have |I_t| < 2).
  assert.equal(await page.locator('.kl-chart[data-block="0"] .kl-dot').count(), 7);
  assert.equal(await page.locator('.kl-chart[data-block="1"] .kl-dot').count(), 10);

  const badges = await page.locator('.block[data-block="0"] vscode-badge.cert').evaluateAll((els) => els.map((e) => `${(e as HTMLElement).dataset.cert}=${(e as HTMLElement).dataset.state}`));
  assert.deepEqual(badges, ["Thm 2=pass", "Cor 6=pass", "Thm 4=pass"]);
  const badges1 = await page.locator('.block[data-block="1"] vscode-badge.cert').evaluateAll((els) => els.map((e) => `${(e as HTMLElement).dataset.cert}=${(e as HTMLElement).dataset.state}`));
  assert.deepEqual(badges1, ["Thm 2=pass", "Cor 6=pass", "Thm 4=fail"]);
  assert.equal(await page.locator('.block[data-block="0"] vscode-badge.margin').textContent(), "m_t 0.620");
  // vscode-badge is a real custom element (the vscode-elements bundle is loaded and upgraded it).
  assert.equal(await page.evaluate(() => !!customElements.get("vscode-badge")), true);
  assert.equal(await page.locator("vscode-badge").first().evaluate((e) => !!e.shadowRoot), true);

  // Early-committed tokens in the text: the fixture's stop commits, restricted to the decoded text.
  const promptLen = trace.promptIds.length;
  const expectedEarly = trace.blocks.flatMap((b) => b.steps.flatMap((s) => s.early)).filter((p) => p - promptLen < trace.text.length).length;
  assert.equal(await page.locator("#text .tok.early").count(), expectedEarly);
  assert.equal(await page.locator("#text").textContent(), trace.text);
  assert.match((await page.locator("#summary-text").textContent()) ?? "", /21\/48 forwards \(saved 27\) · 50% of stops certified/);

  mkdirSync(join(root, "test-output"), { recursive: true });
  await page.screenshot({ path: join(root, "test-output/webview.png"), fullPage: true });
});

test("state persists through setState and restores on reload", { skip }, async () => {
  const saved = await page.evaluate(() => (window as unknown as { __state: { phase: string; blocks: unknown[] } }).__state);
  assert.equal(saved.phase, "done");
  assert.equal(saved.blocks.length, 3);
  // Reload with the stub's state carried over, as VS Code does when a hidden panel is shown again.
  await page.addInitScript(`window.__state = ${JSON.stringify(saved)};`);
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll(".bar").length === 3);
  assert.equal(await page.locator(".kl-chart .stop-line").count(), 2);
});

test("a trace recorded by the engine on the embedded bundle renders as the trace says", { skip }, async () => {
  // Written by `edit-dllm generate --task countdown --stop edit --trace ... "7 3 12>33"`.
  const real = JSON.parse(readFileSync(join(root, "test/fixtures/traces/engine-countdown-edit.json"), "utf8")) as GenerationTrace;
  await post({ type: "trace", trace: real });
  await frame();
  assert.equal(await page.locator(".bar").count(), real.blocks.length);
  const used = await page.locator(".bar").evaluateAll((els) => els.map((e) => e.getAttribute("aria-valuenow")));
  assert.deepEqual(used, real.blocks.map((b) => String(b.stepsUsed)));
  const stopped = real.blocks.filter((b) => b.stopStep !== null);
  assert.deepEqual(await page.locator(".kl-chart .stop-label").allTextContents(), stopped.map((b) => `stop @ ${b.stopStep}`));
  assert.deepEqual(await page.locator(".kl-chart .delta-label").allTextContents(), stopped.map((b) => `δ = ${b.delta}`));
  // This small model's stops are not certified (margin ~1e-4): the Theorem 4 badge must say so.
  const thm4 = await page.locator('.block[data-block="0"] vscode-badge.cert[data-cert="Thm 4"]').getAttribute("data-state");
  assert.equal(thm4, real.blocks[0].certificate?.thm4 ? "pass" : "fail");
  assert.equal(await page.locator("#text").textContent(), real.text);
});

test("clear empties the panel", { skip }, async () => {
  await post({ type: "clear" });
  await frame();
  assert.equal(await page.locator(".bar").count(), 0);
  assert.match((await page.locator("#summary-text").textContent()) ?? "", /No generation yet/);
});

test("zero CSP violations and no console errors", { skip }, async () => {
  const csp = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  assert.deepEqual(csp, []);
  assert.deepEqual(consoleErrors, []);
});
