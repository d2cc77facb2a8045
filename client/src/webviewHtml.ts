/**
 * The certificate panel's HTML. No vscode import, so the headless-browser test renders exactly this
 * page (test/webview/panel.test.ts). Strict CSP: nothing inline runs or styles without the nonce,
 * nothing remote loads; styles come from the extension's media/ folder (cspSource).
 */
export interface WebviewHtmlOptions {
  /** `webview.cspSource` (in the browser test: the local server's origin). */
  cspSource: string;
  /** A fresh random nonce per render (base64url / alphanumerics only). */
  nonce: string;
  /** URI of dist/webview.js (ES module; the vscode-elements components are bundled into it). */
  scriptUri: string;
  /** URI of media/webview.css. */
  styleUri: string;
}

export class WebviewHtmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebviewHtmlError";
  }
}

const NONCE_RE = /^[A-Za-z0-9+/_=-]{16,}$/;

function attr(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
  ].join("; ");
}

export function renderWebviewHtml(opts: WebviewHtmlOptions): string {
  if (!NONCE_RE.test(opts.nonce))
    throw new WebviewHtmlError(`webview nonce must be at least 16 base64 characters; got ${JSON.stringify(opts.nonce)}`);
  const csp = contentSecurityPolicy(opts.cspSource, opts.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(opts.styleUri)}" nonce="${attr(opts.nonce)}">
<title>EDIT: Stop Certificates</title>
</head>
<body>
<main id="app" aria-live="polite">
  <header class="summary" id="summary"><h1>EDIT stop certificates</h1><p class="muted" id="summary-text">No generation yet. Run "EDIT: Generate from Prompt" or accept an inline completion.</p></header>
  <section id="blocks" class="blocks" aria-label="Blocks"></section>
  <section id="output" class="output" aria-label="Generated text" hidden>
    <h2>Generated text</h2>
    <pre id="text" class="text"></pre>
    <p class="legend"><span class="tok early">early</span> committed early by a per-step rule or a stop · <span class="tok">normal</span> committed on schedule</p>
  </section>
</main>
<script type="module" nonce="${attr(opts.nonce)}" src="${attr(opts.scriptUri)}"></script>
</body>
</html>`;
}

/** A random nonce for each render (the extension calls this; tests pass a fixed one). */
export function makeNonce(randomBytes: (n: number) => Uint8Array): string {
  return Buffer.from(randomBytes(18)).toString("base64url");
}
