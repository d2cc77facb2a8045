/**
 * EDIT for the editor: the thin VS Code client. Everything that generates lives in the daemon
 * (dist/cli.js serve --stdio); this file wires the daemon, the status bar, the commands and the
 * certificate panel together.
 */
import * as vscode from "vscode";
import type { GenerateResult } from "../../protocol/lsp";
import type { GenerationTrace } from "../../protocol/trace";
import { Daemon } from "./daemon";
import { statusView, type ClientPhase } from "./statusText";
import { PROMPT_EXAMPLES, taskChoices } from "./taskPick";
import { TracePanel } from "./tracePanel";

/** What activate() returns: used by the extension-host suite (test/extension-host/). */
export interface EditExtensionApi {
  daemon: Daemon;
  panel: TracePanel;
  /** The inline provider registered by the daemon's dynamic registration, once the model is loaded. */
  inlineProvider(document: vscode.TextDocument): vscode.InlineCompletionItemProvider | undefined;
  generate(prompt: string, insert?: boolean): Promise<GenerateResult | undefined>;
  lastTrace(): GenerationTrace | null;
}

let daemon: Daemon | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<EditExtensionApi> {
  const log = vscode.window.createOutputChannel("EDIT", { log: true });
  const status = vscode.window.createStatusBarItem("edit.status", vscode.StatusBarAlignment.Right, 100);
  status.name = "EDIT";
  status.command = "edit.restartDaemon";
  const panel = new TracePanel(context.extensionUri);
  let phase: ClientPhase = { kind: "starting" };
  let lastTrace: GenerationTrace | null = null;

  const showStatus = (): void => {
    const v = statusView(phase, lastTrace);
    status.text = v.text;
    status.tooltip = v.tooltip;
    status.backgroundColor =
      v.severity === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : v.severity === "warning" ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    status.show();
  };
  const setPhase = (p: ClientPhase): void => {
    phase = p;
    showStatus();
  };

  daemon = new Daemon(context, log, { onPhase: setPhase });
  const d = daemon;
  context.subscriptions.push(log, status, panel, { dispose: () => void d.dispose() });
  showStatus();

  async function generate(prompt: string, insertAt?: { editor: vscode.TextEditor; position: vscode.Position }, task?: string): Promise<GenerateResult | undefined> {
    const s = d.currentSettings.daemon;
    const blocks = s.genLength && s.blockLength ? s.genLength / s.blockLength : 0;
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "EDIT: generating", cancellable: true },
      async (progress, token) => {
        let lastPct = 0;
        panel.begin(prompt, s.stopRule ?? "", blocks, 0);
        let forwards = 0;
        try {
          const request = { prompt, ...(task ? { task } : {}), ...(s.stopRule ? { stop: s.stopRule } : {}), ...(s.stopParams ? { params: s.stopParams } : {}) };
          const result = await d.generate(request, token, {
            onStep: (event, p) => {
              forwards += 1;
              setPhase({ kind: "generating", forwards, budget: blocks ? blocks * event.blockBudget : event.blockBudget * (event.block + 1) });
              panel.step({ type: "step", event });
              const pct = p.percentage ?? lastPct;
              progress.report({ message: p.message, increment: Math.max(0, pct - lastPct) });
              lastPct = pct;
            },
          });
          lastTrace = result.trace;
          panel.trace(result.trace);
          const saved = result.trace.totals.budget - result.trace.totals.forwards;
          log.info(`generated ${JSON.stringify(result.text)} (task ${result.trace.task ?? "raw"}): ${result.trace.totals.forwards}/${result.trace.totals.budget} forwards (saved ${saved}), rule ${result.trace.rule}`);
          if (insertAt) {
            await insertAt.editor.edit((b) => b.insert(insertAt.position, result.text));
          }
          return result;
        } finally {
          const st = d.lastStatus;
          setPhase(st ? { kind: "daemon", status: st.state === "generating" ? { ...st, state: "ready" } : st } : { kind: "starting" });
          void d.refreshStatus();
        }
      },
    );
  }

  async function runGenerate(prompt: string, insertAt?: { editor: vscode.TextEditor; position: vscode.Position }, task?: string): Promise<GenerateResult | undefined> {
    try {
      const result = await generate(prompt, insertAt, task);
      if (result && !insertAt) {
        const doc = await vscode.workspace.openTextDocument({ content: result.text });
        await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Active });
      }
      return result;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.error(`generation failed: ${message}`);
      void vscode.window.showErrorMessage(`EDIT: generation failed: ${message}`, "Show Log").then((a) => a && log.show());
      return undefined;
    }
  }

  context.subscriptions.push(
    vscode.commands.registerCommand("edit.generateFromPrompt", async (promptArg?: string, opts?: { task?: string; insert?: boolean }) => {
      // 1. The bundle's task (remembered per workspace), 2. the prompt, 3. where the result goes.
      // A prompt passed by a caller (a keybinding, the extension-host suite) runs under the default task unless opts says.
      const task = opts?.task ?? (typeof promptArg === "string" ? "" : await pickTask());
      if (task === undefined) return undefined;
      const prompt =
        typeof promptArg === "string"
          ? promptArg
          : await vscode.window.showInputBox({ title: `EDIT: Generate from Prompt (task ${task || "default"})`, prompt: "Prompt for the diffusion model", placeHolder: PROMPT_EXAMPLES[task] ?? "", ignoreFocusOut: true });
      if (prompt === undefined || prompt === "") return undefined;
      const editor = vscode.window.activeTextEditor;
      const insert = opts?.insert ?? (typeof promptArg === "string" ? false : await pickDestination(editor));
      if (insert === undefined) return undefined;
      return runGenerate(prompt, insert && editor ? { editor, position: editor.selection.active } : undefined, task || undefined);
    }),
    vscode.commands.registerCommand("edit.showLog", () => log.show()),
    // The walkthrough contributed in package.json (scripts/extension-manifest.mjs, media/walkthrough/).
    vscode.commands.registerCommand("edit.getStarted", () =>
      vscode.commands.executeCommand("workbench.action.openWalkthrough", `${context.extension.id}#edit.gettingStarted`, false),
    ),
    vscode.commands.registerCommand("edit.generateFromSelection", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.selection.isEmpty) {
        void vscode.window.showInformationMessage("EDIT: select the prompt text first.");
        return undefined;
      }
      const prompt = editor.document.getText(editor.selection);
      return runGenerate(prompt, { editor, position: editor.selection.end });
    }),
    vscode.commands.registerCommand("edit.showCertificates", () => panel.show()),
    vscode.commands.registerCommand("edit.restartDaemon", async () => {
      log.info("restart requested");
      await d.restart();
    }),
    vscode.commands.registerCommand("edit.selectModelBundle", async () => {
      const picked = await vscode.window.showOpenDialog({
        title: "EDIT: Select Model Bundle (a folder with bundle.json, model.onnx, tokenizer.json, edit-metadata.safetensors)",
        canSelectFolders: true,
        canSelectFiles: false,
        canSelectMany: false,
        openLabel: "Use this bundle",
      });
      if (!picked?.[0]) return;
      const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
      await vscode.workspace.getConfiguration("edit").update("bundlePath", picked[0].fsPath, target);
      log.info(`bundle set to ${picked[0].fsPath}`);
    }),
  );

  /** The task quick pick: the bundle's tasks, the one used last in this workspace first. "" = the daemon's default. */
  async function pickTask(): Promise<string | undefined> {
    const st = d.lastStatus ?? (await d.refreshStatus());
    const remembered = context.workspaceState.get<string>("edit.lastTask");
    const choices = taskChoices(st?.tasks ?? [], st?.defaultTask, remembered);
    if (choices.length === 0) return "";
    const picked = await vscode.window.showQuickPick(
      choices.map((c) => ({ label: c.task, description: c.note })),
      { title: "EDIT: Generate from Prompt: task", placeHolder: "The task the prompt belongs to (its template is applied)", ignoreFocusOut: true },
    );
    if (!picked) return undefined;
    await context.workspaceState.update("edit.lastTask", picked.label);
    return picked.label;
  }

  /** Where the result goes: a new editor by default; insertion at the cursor only when chosen. */
  async function pickDestination(editor: vscode.TextEditor | undefined): Promise<boolean | undefined> {
    if (!editor) return false;
    const items = [
      { label: "Open in a new editor", description: "default", insert: false },
      { label: "Insert at the cursor", description: editor.document.fileName.split(/[\\/]/).pop() ?? "", insert: true },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: "EDIT: Generate from Prompt: where the result goes", ignoreFocusOut: true });
    return picked?.insert;
  }

  // Not awaited: a daemon that fails to start is retried with backoff without holding up activation.
  void d.start();

  return {
    daemon: d,
    panel,
    inlineProvider: (doc) => d.inlineProvider(doc),
    generate: (prompt, insert = false) => {
      const editor = vscode.window.activeTextEditor;
      return runGenerate(prompt, insert && editor ? { editor, position: editor.selection.active } : undefined);
    },
    lastTrace: () => lastTrace,
  };
}

export async function deactivate(): Promise<void> {
  await daemon?.dispose();
  daemon = undefined;
}
