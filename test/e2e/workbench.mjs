// Driving the VS Code web workbench (code-server) with playwright-core: the command palette, quick
// picks, the status bar item, ghost text, notifications and the webview. Selectors are VS Code's
// own DOM classes (stable across 1.9x releases): .quick-input-widget, .statusbar-item,
// .ghost-text-decoration, .notification-toast, iframe.webview.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws `what` after `timeoutMs`. */
export async function until(fn, what, timeoutMs = 15000, everyMs = 100) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
    await sleep(everyMs);
  }
}

/**
 * Records every text the EDIT status bar item shows (a MutationObserver installed before the
 * workbench loads): the loading -> ready and restart transitions are too quick to poll.
 */
export const STATUS_RECORDER = `
  window.__editStatus = [];
  const record = () => {
    for (const el of document.querySelectorAll(".statusbar-item")) {
      const t = (el.textContent || "").trim();
      if (t.startsWith("EDIT:") && window.__editStatus[window.__editStatus.length - 1] !== t) window.__editStatus.push(t);
    }
  };
  window.__editToasts = [];
  const recordToasts = () => {
    for (const el of document.querySelectorAll(".notification-toast, .notification-list-item")) {
      const t = (el.textContent || "").trim();
      if (t && !window.__editToasts.includes(t)) window.__editToasts.push(t);
    }
  };
  new MutationObserver(() => { record(); recordToasts(); }).observe(document, { subtree: true, childList: true, characterData: true });
`;

export async function statusHistory(page) {
  return page.evaluate(() => window.__editStatus.slice());
}

export async function toastHistory(page) {
  return page.evaluate(() => window.__editToasts.slice());
}

export async function statusText(page) {
  return page.evaluate(() => {
    for (const el of document.querySelectorAll(".statusbar-item")) {
      const t = (el.textContent || "").trim();
      if (t.startsWith("EDIT:")) return t;
    }
    return null;
  });
}

/** The status item's tooltip (hover it; VS Code renders the tooltip into .monaco-hover / .workbench-hover). */
export async function statusTooltip(page) {
  const item = page.locator(".statusbar-item", { hasText: "EDIT:" }).first();
  await item.hover();
  const hover = page.locator(".workbench-hover, .monaco-hover").filter({ hasText: /Model:|No model|Starting|daemon/ }).first();
  await hover.waitFor({ state: "visible", timeout: 5000 });
  const text = await hover.innerText();
  await page.mouse.move(5, 5);
  return text;
}

async function quickInput(page) {
  const w = page.locator(".quick-input-widget");
  await w.waitFor({ state: "visible", timeout: 10000 });
  return w;
}

/** Runs a command from the palette by its full title ("EDIT: Generate from Prompt"). */
export async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const w = await quickInput(page);
  await page.keyboard.insertText(title);
  const row = w.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 10000 });
  await row.click();
}

/** Picks the row of the open quick pick whose label is `label` (exact). */
export async function pick(page, label) {
  const w = await quickInput(page);
  const row = w.locator(".quick-input-list .monaco-list-row").filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${escapeRe(label)}$`) }) }).first();
  await row.waitFor({ state: "visible", timeout: 10000 });
  await row.click();
}

/** The labels of the open quick pick, top to bottom. */
export async function pickLabels(page) {
  const w = await quickInput(page);
  await w.locator(".quick-input-list .monaco-list-row").first().waitFor({ state: "visible", timeout: 10000 });
  // The list fills in over a few frames: read until two reads 200 ms apart agree.
  let prev = null;
  return until(async () => {
    const now = JSON.stringify(await w.locator(".quick-input-list .monaco-list-row .label-name").allInnerTexts());
    const same = now === prev;
    prev = now;
    return same ? JSON.parse(now) : null;
  }, "the quick pick's rows to settle", 5000, 200);
}

/** Types into the open input box and presses Enter. */
export async function answerInput(page, text) {
  const w = await quickInput(page);
  const input = w.locator(".quick-input-box input").first();
  await input.fill(text);
  await until(async () => (await input.inputValue()) === text, `the input box to hold ${JSON.stringify(text)}`, 5000);
  await page.keyboard.press("Enter");
}

export async function openFile(page, name) {
  await page.keyboard.press("Control+P");
  await quickInput(page);
  await page.keyboard.type(name, { delay: 5 });
  await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().waitFor({ state: "visible", timeout: 10000 });
  await page.keyboard.press("Enter");
  await page.locator(`.tab[aria-label*="${name}"]`).first().waitFor({ state: "visible", timeout: 10000 });
  await page.locator(".monaco-editor .view-lines").first().waitFor({ state: "visible" });
}

/** The ghost text of the inline suggestion on screen, or null. */
export async function ghostText(page) {
  return page.evaluate(() => {
    const parts = [...document.querySelectorAll(".monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text-decoration-preview, .monaco-editor .ghost-text")];
    if (!parts.length) return null;
    return parts.map((p) => (p.textContent || "").replace(/\u00a0/g, " ")).join("");
  });
}

/** Text of the active editor as rendered (short documents only: Monaco renders the visible lines). */
export async function activeEditorText(page) {
  return page.evaluate(() => {
    const ed = document.querySelector(".editor-group-container.active .monaco-editor .view-lines");
    if (!ed) return null;
    const lines = [...ed.querySelectorAll(".view-line")]
      .map((l) => ({ top: parseFloat(l.style.top || "0"), text: (l.textContent || "").replace(/\u00a0/g, " ") }))
      .sort((a, b) => a.top - b.top);
    return lines.map((l) => l.text).join("\n");
  });
}

/** The webview's inner document (VS Code nests it: iframe.webview > iframe#active-frame). */
export function webviewFrame(page) {
  return page.frameLocator("iframe.webview.ready").first().frameLocator("iframe#active-frame");
}

/** The EDIT output channel's log file (a LogOutputChannel writes one under the extension host's log folder). */
export function editLogFile(userDataDir) {
  const found = [];
  const walk = (d) => {
    let names = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/EDIT\.log$/.test(n)) found.push(p);
    }
  };
  walk(join(userDataDir, "logs"));
  found.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return found[0] ?? null;
}

export function editLog(userDataDir) {
  const f = editLogFile(userDataDir);
  return f ? readFileSync(f, "utf8") : "";
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
