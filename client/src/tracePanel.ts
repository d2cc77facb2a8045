/**
 * The "EDIT: Stop Certificates" webview panel. Holds the last trace so a panel opened after a
 * generation shows it; forwards live begin/step messages while a generation streams.
 */
import * as vscode from "vscode";
import { randomBytes } from "node:crypto";
import type { WebviewMessage, WebviewReply } from "../../protocol/lsp";
import type { GenerationTrace } from "../../protocol/trace";
import { makeNonce, renderWebviewHtml } from "./webviewHtml";

export class TracePanel implements vscode.Disposable {
  static readonly viewType = "edit.certificates";
  private panel: vscode.WebviewPanel | null = null;
  private ready = false;
  private queue: WebviewMessage[] = [];
  private lastTrace: GenerationTrace | null = null;
  private streaming: WebviewMessage[] = [];

  constructor(private readonly extensionUri: vscode.Uri) {}

  show(): void {
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(TracePanel.viewType, "EDIT: Stop Certificates", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "dist"), vscode.Uri.joinPath(this.extensionUri, "media")],
    });
    const w = panel.webview;
    w.html = renderWebviewHtml({
      cspSource: w.cspSource,
      nonce: makeNonce((n) => randomBytes(n)),
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "dist", "webview.js")).toString(),
      styleUri: w.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "media", "webview.css")).toString(),
    });
    w.onDidReceiveMessage((m: WebviewReply) => {
      if (m?.type !== "ready") return;
      this.ready = true;
      // A (re)loaded page: replay what it should show, then anything queued meanwhile.
      const replay: WebviewMessage[] = this.streaming.length ? this.streaming : this.lastTrace ? [{ type: "trace", trace: this.lastTrace }] : [];
      for (const msg of [...replay, ...this.queue]) void w.postMessage(msg);
      this.queue = [];
    });
    panel.onDidDispose(() => {
      this.panel = null;
      this.ready = false;
    });
    this.panel = panel;
  }

  private post(msg: WebviewMessage): void {
    if (!this.panel) return;
    if (this.ready) void this.panel.webview.postMessage(msg);
    else this.queue.push(msg);
  }

  begin(prompt: string, rule: string, blocks: number, blockBudget: number): void {
    const msg: WebviewMessage = { type: "begin", prompt, rule, blocks, blockBudget };
    this.streaming = [msg];
    this.post(msg);
  }

  step(msg: Extract<WebviewMessage, { type: "step" }>): void {
    if (this.streaming.length) this.streaming.push(msg);
    this.post(msg);
  }

  trace(trace: GenerationTrace): void {
    this.lastTrace = trace;
    this.streaming = [];
    this.post({ type: "trace", trace });
  }

  get isOpen(): boolean {
    return this.panel !== null;
  }

  get last(): GenerationTrace | null {
    return this.lastTrace;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
