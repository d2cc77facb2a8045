import { test } from "node:test";
import assert from "node:assert/strict";
import { contentSecurityPolicy, makeNonce, renderWebviewHtml, WebviewHtmlError } from "../../client/src/webviewHtml";

const opts = { cspSource: "https://file+.vscode-resource.vscode-cdn.net", nonce: "abcdefghijklmnop1234", scriptUri: "https://x/dist/webview.js", styleUri: "https://x/media/webview.css" };

test("strict CSP: nothing by default, scripts only with the nonce, styles from the extension", () => {
  assert.equal(
    contentSecurityPolicy(opts.cspSource, opts.nonce),
    "default-src 'none'; script-src 'nonce-abcdefghijklmnop1234'; style-src https://file+.vscode-resource.vscode-cdn.net 'nonce-abcdefghijklmnop1234'; img-src https://file+.vscode-resource.vscode-cdn.net data:; font-src https://file+.vscode-resource.vscode-cdn.net",
  );
  const html = renderWebviewHtml(opts);
  assert.match(html, /<script type="module" nonce="abcdefghijklmnop1234" src="https:\/\/x\/dist\/webview.js"><\/script>/);
  assert.ok(!/unsafe-inline|unsafe-eval|https?:\/\/(?!x\/|file\+)/.test(html.replace(opts.cspSource, "")), "no inline allowances, no remote origins");
  assert.equal((html.match(/<script/g) ?? []).length, 1);
});

test("a short or unsafe nonce is refused", () => {
  assert.throws(() => renderWebviewHtml({ ...opts, nonce: "abc" }), WebviewHtmlError);
  assert.throws(() => renderWebviewHtml({ ...opts, nonce: "abcdefghijklmnop'><script>" }), WebviewHtmlError);
});

test("makeNonce: 18 random bytes as base64url (24 characters)", () => {
  const n = makeNonce((k) => new Uint8Array(k).fill(255));
  assert.equal(n, "________________________");
});
