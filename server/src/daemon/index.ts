/**
 * `edit-dllm serve --stdio`: the daemon entry point. JSON-RPC over this process's stdin/stdout (no
 * network port); logs go to stderr and the client's log (window/logMessage), never to stdout, which
 * carries the protocol.
 */
import { createConnection, type Connection } from "vscode-languageserver/node";
import type { DaemonSettings } from "../../../protocol/lsp";
import type { LoadEngine } from "./core";
import { attachServer } from "./server";
import { createWire, type Wire } from "./wire";
import { DEFAULT_MAX_PROMPT_CHARS } from "../context-limit";
import { loadWorkerEngine } from "../worker/worker-engine";

export interface DaemonOptions {
  /** Engine factory; defaults to the real engine in an inference worker thread (worker/worker-engine.ts). Tests of the wiring may pass another. */
  loadEngine?: LoadEngine;
  /** Settings from the command line (e.g. --bundle, --provider); the client's settings override them. */
  settings?: DaemonSettings;
  version?: string;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Largest accepted JSON-RPC message in bytes (default 64 MiB); larger headers are refused and skipped. */
  maxMessageBytes?: number;
  /** The editor's process id (--clientProcessId): the daemon ends, as on `exit`, when it is gone. */
  clientProcessId?: number;
}

export function startDaemon(opts: DaemonOptions = {}): Connection {
  routeConsoleToStderr();
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  // Framing, envelope and lifecycle checks happen before vscode-languageserver sees a message (wire.ts).
  // Every way the session ends (exit, stdin closed, the editor gone) goes through endSession(), set below.
  let endSession: (why: string) => void = () => undefined;
  let maxPromptChars = () => opts.settings?.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
  const wire = createWire({
    input,
    output,
    log: (line) => process.stderr.write(`edit-dllm: ${line}\n`),
    ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
    onExit: () => endSession("exit"),
    onClientProcessId: (pid) => watchClient(pid, (why) => endSession(why)),
    maxPromptChars: () => maxPromptChars(),
  });
  const connection = createConnection(wire.reader, wire.writer);
  const loadEngine: LoadEngine = opts.loadEngine ?? loadWorkerEngine;
  const core = attachServer(connection, {
    loadEngine,
    ...(opts.settings ? { settings: opts.settings } : {}),
    ...(opts.version ? { version: opts.version } : {}),
  });
  maxPromptChars = () => core.settings.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
  // Without these, a stray rejection in a handler would end the daemon and every client's session.
  process.on("uncaughtException", (e) => process.stderr.write(`edit-dllm: uncaught exception: ${e.stack ?? String(e)}\n`));
  process.on("unhandledRejection", (e) => process.stderr.write(`edit-dllm: unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));
  /**
   * Like `exit`: code 0 only after a `shutdown` (LSP). The process ends only once the inference worker
   * has let go of its ONNX session (DaemonCore.dispose -> WorkerEngine.dispose): a process.exit while a
   * forward runs tore the worker down mid-run and aborted the daemon (SIGABRT, issue 22).
   */
  let ending = false;
  endSession = (why) => {
    if (ending) return;
    ending = true;
    const code = wire.gate.shutDown ? 0 : 1;
    if (why !== "exit") process.stderr.write(`edit-dllm: ${why}; releasing the model and exiting\n`);
    const finish = () => void flushAnswers(wire, output).then(() => process.exit(code));
    core.dispose().then(finish, (e: unknown) => {
      process.stderr.write(`edit-dllm: releasing the model failed: ${e instanceof Error ? e.message : String(e)}\n`);
      finish();
    });
  };
  // When the client goes away without `exit`, stdin ends.
  input.on("end", () => endSession("stdin closed"));
  input.on("close", () => endSession("stdin closed"));
  if (opts.clientProcessId !== undefined) watchClient(opts.clientProcessId, (why) => endSession(why));
  connection.listen();
  return connection;
}

/** The longest the daemon waits, at exit, for the answers still owed (shutdown's, cancelled generations'). */
const FLUSH_ANSWERS_MS = 1_000;

/** Resolves once every request passed on has been answered and stdout has taken the bytes (bounded). */
async function flushAnswers(wire: Wire, output: NodeJS.WritableStream): Promise<void> {
  const t0 = Date.now();
  while (wire.gate.inFlightCount > 0 && Date.now() - t0 < FLUSH_ANSWERS_MS) await new Promise((r) => setTimeout(r, 5));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, FLUSH_ANSWERS_MS);
    output.write("", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The daemon must not outlive its editor: poll the client's pid (signal 0 only tests existence). */
function watchClient(pid: number, gone: (why: string) => void): void {
  if (!Number.isInteger(pid) || pid <= 0) return;
  const timer = setInterval(() => {
    try {
      process.kill(pid, 0);
    } catch (e) {
      // EPERM: the process exists but belongs to another user.
      if ((e as NodeJS.ErrnoException).code === "EPERM") return;
      clearInterval(timer);
      gone(`client process ${pid} is gone`);
    }
  }, 3000);
  timer.unref();
}

/** stdout is the protocol channel: any console.log from a dependency would corrupt it. */
function routeConsoleToStderr(): void {
  const toStderr = (...args: unknown[]) => process.stderr.write(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ") + "\n");
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
