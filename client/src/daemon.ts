/**
 * Starts and supervises the daemon (`dist/cli.js serve --stdio`) through vscode-languageclient, and
 * exposes the custom requests. The library's default error handler gives up after 5 crashes in 3
 * minutes; ours restarts forever with the backoff in backoff.ts and says so in the status bar.
 */
import * as vscode from "vscode";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  CloseAction,
  ErrorAction,
  InlineCompletionRequest,
  LanguageClient,
  State,
  WorkDoneProgress,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";
import { Methods, type GenerateParams, type GenerateProgress, type GenerateResult, type StatusResult } from "../../protocol/lsp";
import type { StepEvent } from "../../protocol/trace";
import { RestartBackoff } from "./backoff";
import { daemonLaunch } from "./launch";
import { debouncedRequest, Supersession, type CancellationLike } from "./debounce";
import { WakeableSleep } from "./sleep";
import type { ClientPhase } from "./statusText";
import { toDaemonSettings, type MappedSettings } from "./settings";
import { StartFailures } from "./startFailures";
import { DaemonProcess } from "./daemonProcess";

export interface DaemonEvents {
  onPhase(phase: ClientPhase): void;
}

export interface GenerateCallbacks {
  onBegin?(): void;
  onStep?(event: StepEvent, progress: GenerateProgress): void;
}

/** Null when `path` is a bundle folder (it holds bundle.json), else what is wrong. */
export function bundleProblem(path: string): string | null {
  if (!existsSync(path)) return `${path} does not exist`;
  if (!statSync(path).isDirectory()) return `${path} is not a folder`;
  if (!existsSync(join(path, "bundle.json"))) return `${path} has no bundle.json`;
  return null;
}

/**
 * The current "edit" configuration, validated; each problem is logged and shown once per change,
 * and an invalid value keeps the previous valid one (`previous`).
 */
export function readSettings(log: vscode.LogOutputChannel, previous?: MappedSettings, show = false, knownRules?: readonly string[]): MappedSettings {
  const c = vscode.workspace.getConfiguration("edit");
  const raw = {
    bundlePath: c.get("bundlePath"),
    executionProvider: c.get("executionProvider"),
    stopRule: c.get("stopRule"),
    stopParams: c.get("stopParams"),
    genLength: c.get("genLength"),
    blockLength: c.get("blockLength"),
    steps: c.get("steps"),
    threads: c.get("threads"),
    cache: c.get("cache"),
    maxPromptChars: c.get("maxPromptChars"),
    debounceMs: c.get("debounceMs"),
    inlineMinConfidence: c.get("inline.minConfidence"),
    inlineConfidenceStatistic: c.get("inline.confidenceStatistic"),
  };
  const mapped = toDaemonSettings(raw, previous?.daemon, { bundleProblem, ...(knownRules ? { knownRules } : {}) });
  for (const e of mapped.errors) {
    const kept = previous ? " The previous value stays in use." : " The default is used.";
    log.warn(e.message + kept);
    if (show) void vscode.window.showWarningMessage(`EDIT: ${e.message}${kept}`, "Open Settings").then((a) => a && vscode.commands.executeCommand("workbench.action.openSettings", `edit.${e.setting}`));
  }
  return mapped;
}

function linkedToken(ticket: CancellationLike): vscode.CancellationToken {
  const source = new vscode.CancellationTokenSource();
  ticket.onCancellationRequested(() => source.cancel());
  return source.token;
}

export class Daemon implements vscode.Disposable {
  readonly client: LanguageClient;
  readonly supersession = new Supersession();
  private readonly backoff = new RestartBackoff();
  private readonly startFailures = new StartFailures();
  /** True while client.start() runs: a close then is the start's failure, handled (and retried) by start(). */
  private starting = false;
  private runningSince = 0;
  private readonly process: DaemonProcess;
  private readonly wait = new WakeableSleep();
  private disposed = false;
  /** Set while the daemon is down and a restart is scheduled: requests then say "restarting", not "disposed". */
  private restartPending: { attempt: number } | null = null;
  private settings: MappedSettings;
  private subscriptions: vscode.Disposable[] = [];
  lastStatus: StatusResult | null = null;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly events: DaemonEvents,
  ) {
    this.settings = readSettings(log, undefined, true);
    const launch = daemonLaunch(process.execPath, context.extensionPath, process.env);
    // Our own spawn (a ServerOptions function) so that a death can be explained: exit code, last stderr line.
    this.process = new DaemonProcess(launch);
    const serverOptions: ServerOptions = () => this.process.start();
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: log,
      initializationOptions: () => ({ edit: this.settings.daemon }),
      // A failed start is ours to report (once, with the reason: start()/onClosed and StartFailures),
      // not a raw library toast per attempt.
      initializationFailedHandler: (error) => {
        log.error(`the daemon did not initialize: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      },
      errorHandler: {
        error: (error, _message, count): ErrorHandlerResult => {
          log.error(`daemon connection error (${count ?? 1}): ${error.message}`);
          return { action: ErrorAction.Continue, handled: true };
        },
        closed: () => this.onClosed(),
      },
      middleware: {
        // Debounce + supersession in front of the library's inline-completion request (LSP 3.18).
        provideInlineCompletionItems: (document, position, context, token, next) =>
          debouncedRequest(this.supersession, this.settings.debounceMs, token, async (ticket) => {
            const result = await next(document, position, context, linkedToken(ticket));
            return result ?? null;
          }),
        workspace: {
          // The daemon pulls "edit": answer with the validated DaemonSettings, not the raw values.
          configuration: (params, token, next) => {
            const wantsEdit = params.items.some((i) => i.section === "edit");
            if (!wantsEdit) return next(params, token);
            return params.items.map((i) => (i.section === "edit" ? this.settings.daemon : null));
          },
          // The library would push the raw section; our own listener pushes the mapped DaemonSettings.
          didChangeConfiguration: async () => undefined,
        },
      },
    };
    this.client = new LanguageClient("edit", "EDIT daemon", serverOptions, clientOptions);
    this.subscriptions.push(
      this.client.onDidChangeState((e) => {
        if (e.newState === State.Running) {
          this.runningSince = Date.now();
          this.backoff.markStarted(Date.now());
          this.restartPending = null;
          this.log.info("daemon running");
        }
      }),
      this.client.onNotification(Methods.statusDidChange, (s: StatusResult) => this.setStatus(s)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration("edit")) return;
        this.log.info("the edit.* settings changed");
        void this.pushSettings();
      }),
    );
  }

  get debounceMs(): number {
    return this.settings.debounceMs;
  }

  get currentSettings(): MappedSettings {
    return this.settings;
  }

  private setStatus(s: StatusResult): void {
    this.lastStatus = s;
    this.events.onPhase({ kind: "daemon", status: s });
  }

  private async onClosed(): Promise<CloseHandlerResult> {
    if (this.disposed || this.starting) return { action: CloseAction.DoNotRestart, handled: true };
    await this.process.exited(500);
    const reason = `the daemon process exited (${this.process.describeExit() ?? "still running"})`;
    if (this.startFailures.record(Date.now() - this.runningSince, reason)) {
      this.giveUp();
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const { delayMs, attempt } = this.backoff.nextDelay(Date.now());
    this.log.warn(`${reason}; restart attempt ${attempt} in ${delayMs} ms`);
    this.events.onPhase({ kind: "restarting", attempt, delayMs, reason });
    this.restartPending = { attempt };
    await this.wait.sleep(delayMs);
    if (this.disposed) return { action: CloseAction.DoNotRestart, handled: true };
    this.events.onPhase({ kind: "starting" });
    // A restarted daemon that dies within the grace time counts as a failure at start.
    this.runningSince = Date.now();
    return { action: CloseAction.Restart, handled: true, message: `restarting the EDIT daemon (attempt ${attempt})` };
  }

  /**
   * Starts the daemon; a failed start is retried with the same backoff, up to
   * StartFailures.limit failures in a row (a daemon that cannot start will not start on retry 6 either).
   */
  async start(): Promise<void> {
    this.events.onPhase({ kind: "starting" });
    this.starting = true;
    try {
      await this.client.start();
      this.starting = false;
      await this.refreshStatus();
    } catch (e) {
      this.starting = false;
      if (this.disposed) return;
      await this.process.exited(500);
      const died = this.process.describeExit();
      const reason = (e instanceof Error ? e.message : String(e)) + (died ? ` (${died})` : "");
      if (this.startFailures.record(0, `start failed: ${reason}`)) {
        this.giveUp();
        return;
      }
      const { delayMs, attempt } = this.backoff.nextDelay(Date.now());
      this.log.error(`the daemon did not start (${reason}); retry ${attempt} in ${delayMs} ms`);
      this.events.onPhase({ kind: "restarting", attempt, delayMs, reason: `start failed: ${reason}` });
      this.restartPending = { attempt };
      await this.wait.sleep(delayMs);
      if (!this.disposed && !this.client.isRunning()) await this.start();
    }
  }

  private giveUp(): void {
    const why = this.startFailures.summary();
    this.log.error(`${why}; not restarting it again. Fix the cause, then run "EDIT: Restart Daemon".`);
    this.events.onPhase({ kind: "stopped", reason: why });
    void vscode.window.showErrorMessage(`EDIT: ${why}. Not retrying: fix the cause (see the log), then run "EDIT: Restart Daemon".`, "Show Log", "Restart").then((a) => {
      if (a === "Show Log") this.log.show();
      else if (a === "Restart") void this.restart();
    });
  }

  /** The "EDIT: Restart Daemon" command: start over with a fresh backoff schedule. */
  async restart(): Promise<void> {
    this.backoff.reset();
    this.startFailures.reset();
    if (this.wait.sleeping) {
      this.wait.interrupt();
      return;
    }
    this.events.onPhase({ kind: "starting" });
    if (this.client.isRunning()) await this.client.restart();
    else await this.start();
    await this.refreshStatus();
  }

  async refreshStatus(): Promise<StatusResult | null> {
    if (!this.client.isRunning()) return null;
    try {
      const s = await this.client.sendRequest<StatusResult>(Methods.status);
      this.setStatus(s);
      return s;
    } catch (e) {
      this.log.warn(`edit/status failed: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }

  async pushSettings(): Promise<void> {
    this.settings = readSettings(this.log, this.settings, true, this.lastStatus?.rules);
    if (!this.client.isRunning()) return;
    // DaemonSettings under the "edit" section (protocol/lsp.ts).
    await this.client.sendNotification("workspace/didChangeConfiguration", { settings: { edit: this.settings.daemon } });
  }

  /** edit/generate with a work-done token: each `$/progress` report carries one StepEvent. */
  async generate(params: GenerateParams, token: vscode.CancellationToken, cb: GenerateCallbacks = {}): Promise<GenerateResult> {
    if (!this.client.isRunning()) throw new DaemonNotRunningError(this.restartPending);
    const workDoneToken = `edit-generate-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const sub = this.client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
      if (value.kind === "begin") cb.onBegin?.();
      else if (value.kind === "report" && "event" in value) {
        const progress = value as unknown as GenerateProgress;
        cb.onStep?.(progress.event, progress);
      }
    });
    try {
      return await this.client.sendRequest<GenerateResult>(Methods.generate, { ...params, workDoneToken }, token);
    } catch (e) {
      // The library's "Connection disposed" / "Client is not running" mean the daemon died under the request.
      if (!this.client.isRunning() || this.restartPending) throw new DaemonNotRunningError(this.restartPending ?? { attempt: 1 });
      throw e;
    } finally {
      sub.dispose();
    }
  }

  /** The inline provider the library registered once the daemon registered inlineCompletion (test hook). */
  inlineProvider(document: vscode.TextDocument): vscode.InlineCompletionItemProvider | undefined {
    return this.client.getFeature(InlineCompletionRequest.method)?.getProvider(document);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.wait.interrupt();
    for (const s of this.subscriptions) s.dispose();
    if (this.client.isRunning()) await this.client.stop(5000).catch(() => undefined);
    await this.process.exited(2000);
    this.process.killIfAlive();
  }
}

export class DaemonNotRunningError extends Error {
  constructor(restart: { attempt: number } | null = null) {
    super(
      restart
        ? `The EDIT daemon is restarting (attempt ${restart.attempt}); try again in a moment. See the "EDIT" output for why it stopped.`
        : 'The EDIT daemon is not running. See the "EDIT" output, then run "EDIT: Restart Daemon".',
    );
    this.name = "DaemonNotRunningError";
  }
}
