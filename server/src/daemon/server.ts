/**
 * The LSP/JSON-RPC surface of the daemon: lifecycle, incremental document sync, inline completion
 * (registered dynamically once the model is loaded), `edit/generate` with `$/progress` streaming,
 * `edit/status` and the `edit/status/didChange` notification, settings through
 * workspace/didChangeConfiguration. All generation work is DaemonCore's.
 */
import {
  CancellationToken,
  DidChangeConfigurationNotification,
  InlineCompletionRequest,
  RequestType,
  RequestType0,
  TextDocuments,
  TextDocumentSyncKind,
  WorkDoneProgress,
  type ClientCapabilities,
  type Connection,
  type InitializeResult,
  type InlineCompletionList,
  type ServerCapabilities,
} from "vscode-languageserver/node";
import { TextDocument } from "vscode-languageserver-textdocument";
import { Methods, type DaemonSettings, type GenerateProgress, type GenerateResult, type StatusResult } from "../../../protocol/lsp";
import type { StepEvent } from "../../../protocol/trace";
import { DaemonCore, type LoadEngine } from "./core";
import { SupersededError, InvalidParamsError } from "./errors";
import { cancelledError, toResponseError } from "./rpc-errors";
import { parseCursorParams, parseGenerateParams, parseSettings } from "./validate";

const GenerateRequestType = new RequestType<unknown, GenerateResult, unknown>(Methods.generate);
const StatusRequestType = new RequestType0<StatusResult, unknown>(Methods.status);

export interface ServerOptions {
  loadEngine: LoadEngine;
  /** Settings from the command line; initializationOptions and the client's "edit" section override them. */
  settings?: DaemonSettings;
  version?: string;
  slowMs?: number;
  prefixChars?: number;
}

/** The longest `shutdown` waits for the model's release before it answers (issue 22). */
export const SHUTDOWN_ANSWER_MS = 2_000;

export function attachServer(connection: Connection, opts: ServerOptions): DaemonCore {
  const log = (m: string) => connection.console.log(m);
  const core = new DaemonCore({
    loadEngine: opts.loadEngine,
    log,
    onStatus: (s) => void connection.sendNotification(Methods.statusDidChange, s).catch(() => undefined),
    ...(opts.settings ? { settings: opts.settings } : {}),
    ...(opts.slowMs !== undefined ? { slowMs: opts.slowMs } : {}),
    ...(opts.prefixChars !== undefined ? { prefixChars: opts.prefixChars } : {}),
  });
  const documents = new TextDocuments(TextDocument);
  let capabilities: ClientCapabilities = {};
  let initSettings: DaemonSettings = {};
  let dynamicInline = false;

  connection.onInitialize((params): InitializeResult => {
    capabilities = params.capabilities ?? {};
    const parsed = parseSettings(params.initializationOptions);
    for (const p of parsed.problems) process.stderr.write(`edit-dllm: initializationOptions ${p}\n`);
    initSettings = { ...opts.settings, ...parsed.settings };
    core.applySettings(initSettings);
    dynamicInline = capabilities.textDocument?.inlineCompletion?.dynamicRegistration === true;
    const caps: ServerCapabilities = {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
    };
    // Clients that cannot register dynamically get the capability up front; their requests wait for the load.
    if (!dynamicInline) caps.inlineCompletionProvider = {};
    return { capabilities: caps, serverInfo: { name: "edit-dllm", version: opts.version ?? "0.0.0" } };
  });

  connection.onInitialized(async () => {
    if (capabilities.workspace?.didChangeConfiguration?.dynamicRegistration) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: "edit" }).catch(() => undefined);
    }
    await pullSettings();
    await loadWithProgress();
  });

  /** Bumped by every settings change, so that a pulled answer never overwrites a newer push. */
  let settingsVersion = 0;
  async function pullSettings(): Promise<boolean> {
    if (!capabilities.workspace?.configuration) return false;
    const version = ++settingsVersion;
    try {
      const raw: unknown = await connection.workspace.getConfiguration("edit");
      if (version !== settingsVersion) return false;
      const parsed = parseSettings(raw);
      reportProblems(parsed.problems);
      return core.applySettings({ ...initSettings, ...parsed.settings });
    } catch (e) {
      log(`could not read the "edit" settings: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  async function loadWithProgress(reload = false): Promise<void> {
    let progress: Awaited<ReturnType<typeof connection.window.createWorkDoneProgress>> | null = null;
    try {
      progress = await connection.window.createWorkDoneProgress();
      progress.begin(reload ? "EDIT: reloading model" : "EDIT: loading model", undefined, core.settings.bundlePath ?? "embedded bundle", false);
    } catch {
      progress = null;
    }
    try {
      const engine = await (reload ? core.reload() : core.load());
      progress?.done();
      if (dynamicInline) await registerInline();
      log(`ready: tasks ${engine.info.tasks.join(", ")}`);
    } catch (e) {
      progress?.done();
      const message = e instanceof Error ? e.message : String(e);
      void connection.window.showErrorMessage(`EDIT: the model could not be loaded: ${message}`);
    }
  }

  let inlineRegistered = false;
  async function registerInline(): Promise<void> {
    if (inlineRegistered) return;
    inlineRegistered = true;
    try {
      await connection.client.register(InlineCompletionRequest.type, { documentSelector: null });
    } catch (e) {
      inlineRegistered = false;
      log(`client refused the inline completion registration: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  function reportProblems(problems: string[]): void {
    for (const p of problems) {
      log(`ignored setting ${p}`);
      void connection.window.showWarningMessage(`EDIT: ignored setting ${p}`);
    }
  }

  connection.onDidChangeConfiguration(async (change) => {
    const raw: unknown = change.settings;
    let needsReload: boolean;
    const pushed = raw !== null && typeof raw === "object" && "edit" in raw;
    if (pushed) {
      settingsVersion++;
      const parsed = parseSettings(raw);
      reportProblems(parsed.problems);
      needsReload = core.applySettings({ ...initSettings, ...parsed.settings });
    } else {
      needsReload = await pullSettings();
    }
    if (needsReload) await loadWithProgress(true);
  });

  documents.onDidClose((e) => core.forget(e.document.uri));

  connection.languages.inlineCompletion.on(async (params, token): Promise<InlineCompletionList> => {
    const cursor = guard(() => parseCursorParams(params));
    const doc = documents.get(cursor.uri);
    if (!doc) throw toResponseError(new InvalidParamsError("textDocument.uri", "a document opened with textDocument/didOpen", cursor.uri));
    const offset = doc.offsetAt({ line: cursor.line, character: cursor.character });
    const text = doc.getText();
    const position = doc.positionAt(offset);
    const signal = abortSignalOf(token);
    try {
      const answer = await core.complete({ uri: cursor.uri, before: text.slice(0, offset), after: text.slice(offset), signal });
      if (!answer.text) return { items: [] };
      return { items: [{ insertText: answer.text, range: { start: position, end: position } }] };
    } catch (e) {
      // A superseded request resolves empty: its document moved on and a newer request answers it.
      if (e instanceof SupersededError && !token.isCancellationRequested) return { items: [] };
      throw toResponseError(e);
    }
  });

  connection.onRequest(GenerateRequestType, async (raw, token) => {
    const params = guard(() => parseGenerateParams(raw));
    const progressToken = workDoneTokenOf(raw);
    const signal = abortSignalOf(token);
    // Nothing after "end": a step relayed late from the inference worker is dropped.
    let ended = false;
    const send = (value: Parameters<typeof connection.sendProgress<unknown>>[2]) => {
      if (progressToken === undefined || ended) return;
      if ((value as { kind?: string }).kind === "end") ended = true;
      void connection.sendProgress(WorkDoneProgress.type, progressToken, value as never).catch(() => undefined);
    };
    send({ kind: "begin", title: "EDIT generation", cancellable: true, percentage: 0, message: "queued" });
    const budget = totalBudget();
    const onStep = (event: StepEvent) => {
      const used = event.block * event.blockBudget + event.step.step;
      const value: GenerateProgress = {
        kind: "report",
        message: stepMessage(event),
        event,
        ...(budget ? { percentage: Math.min(100, Math.floor((100 * used) / budget)) } : {}),
      };
      send(value);
    };
    try {
      const result = await core.generate(params, { signal, onStep });
      send({ kind: "end", message: `${result.trace.totals.forwards} of ${result.trace.totals.budget} forwards` });
      return result;
    } catch (e) {
      send({ kind: "end", message: e instanceof Error ? e.message : String(e) });
      if (token.isCancellationRequested) throw cancelledError("edit/generate");
      throw toResponseError(e);
    }
  });

  connection.onRequest(StatusRequestType, () => core.status());

  connection.onShutdown(async () => {
    // Stops the work (the gate refuses requests after shutdown), aborts the generations, and answers
    // once the inference worker has let go of its session, or after SHUTDOWN_ANSWER_MS: a forward of
    // a large model may take longer, and `exit` waits for the release anyway (daemon/index.ts).
    const released = core.dispose().catch((e: unknown) => log(`releasing the model at shutdown failed: ${e instanceof Error ? e.message : String(e)}`));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([released, new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_ANSWER_MS)))]);
    clearTimeout(timer);
  });

  documents.listen(connection);

  /** Forward budget of a default-length generation (progress percentage only). */
  function totalBudget(): number | null {
    return core.settings.steps ?? core.defaultSteps();
  }

  return core;
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toResponseError(e);
  }
}

function workDoneTokenOf(raw: unknown): string | number | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const t = (raw as { workDoneToken?: unknown }).workDoneToken;
  return typeof t === "string" || typeof t === "number" ? t : undefined;
}

function abortSignalOf(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function stepMessage(e: StepEvent): string {
  const kl = e.step.kl === null ? "" : ` D=${e.step.kl.toPrecision(3)}`;
  const c = e.step.counter === null ? "" : ` c=${e.step.counter}`;
  return `block ${e.block + 1} step ${e.step.step}/${e.blockBudget}${kl}${c}${e.step.polish ? " (polish)" : ""}`;
}
