/**
 * The certificate panel's script (bundled to dist/webview.js as a browser ES module). Receives
 * WebviewMessages from the extension, keeps its state with the webview API so a hidden/restored
 * panel shows the same trace, and replies "ready" once it listens.
 */
import "@vscode-elements/elements/dist/vscode-badge/index.js";
import type { WebviewMessage, WebviewReply } from "../../protocol/lsp";
import { render } from "./render";
import { EMPTY_STATE, reduce, type ViewState } from "./state";

interface VsCodeApi {
  postMessage(msg: WebviewReply): void;
  getState(): unknown;
  setState(state: ViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

function isViewState(v: unknown): v is ViewState {
  return typeof v === "object" && v !== null && "phase" in v && Array.isArray((v as ViewState).blocks);
}

let state: ViewState = isViewState(vscode.getState()) ? (vscode.getState() as ViewState) : EMPTY_STATE;
let scheduled = false;

function update(next: ViewState): void {
  state = next;
  vscode.setState(state);
  // Coalesce bursts of step events into one render per frame.
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render(state);
  });
}

window.addEventListener("message", (e: MessageEvent<WebviewMessage>) => {
  const msg = e.data;
  if (!msg || typeof msg !== "object" || !("type" in msg)) return;
  update(reduce(state, msg));
});

render(state);
vscode.postMessage({ type: "ready" });
