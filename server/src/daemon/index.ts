/**
 * `edit-dllm serve --stdio`: the daemon entry point. JSON-RPC over this process's stdin/stdout (no
 * network port); logs go to stderr and the client's log (window/logMessage), never to stdout, which
 * carries the protocol.
 */
import { createConnection, type Connection } from "vscode-languageserver/node";
import type { DaemonSettings } from "../../../protocol/lsp";
import type { LoadEngine } from "./core";
import { attachServer } from "./server";
import { createWire } from "./wire";
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
}

export function startDaemon(opts: DaemonOptions = {}): Connection {
  routeConsoleToStderr();
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  // Framing, envelope and lifecycle checks happen before vscode-languageserver sees a message (wire.ts).
  const wire = createWire({
    input,
    output,
    log: (line) => process.stderr.write(`edit-dllm: ${line}\n`),
    ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
  });
  const connection = createConnection(wire.reader, wire.writer);
  const loadEngine: LoadEngine = opts.loadEngine ?? loadWorkerEngine;
  const core = attachServer(connection, {
    loadEngine,
    ...(opts.settings ? { settings: opts.settings } : {}),
    ...(opts.version ? { version: opts.version } : {}),
  });
  // Without these, a stray rejection in a handler would end the daemon and every client's session.
  process.on("uncaughtException", (e) => process.stderr.write(`edit-dllm: uncaught exception: ${e.stack ?? String(e)}\n`));
  process.on("unhandledRejection", (e) => process.stderr.write(`edit-dllm: unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));
  // When the client goes away without `exit`, stdin ends: like `exit`, code 0 only after a shutdown.
  input.on("end", () => process.exit(core.isDisposed ? 0 : 1));
  connection.listen();
  return connection;
}

/** stdout is the protocol channel: any console.log from a dependency would corrupt it. */
function routeConsoleToStderr(): void {
  const toStderr = (...args: unknown[]) => process.stderr.write(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ") + "\n");
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
