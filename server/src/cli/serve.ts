/** `edit-dllm serve --stdio`: the JSON-RPC/LSP daemon (server/src/daemon) on stdin/stdout. */
import { parseArgs } from "node:util";
import type { DaemonSettings } from "../../../protocol/lsp";
import { startDaemon } from "../daemon/index";
import { UsageError } from "../errors";
import { isProviderChoice } from "../model/providers";
// serverInfo.version in `initialize` (esbuild inlines the JSON; it was "0.0.0" before).
import { version } from "../../../package.json";

export const SERVE_USAGE = `usage: edit-dllm serve --stdio [--bundle DIR] [--provider P] [--clientProcessId PID] [--max-message-mb N]
  JSON-RPC (LSP framing) on stdin/stdout; logs on stderr. Messages larger than --max-message-mb
  (default 64) are refused with a log line and skipped.`;

/** Returns -1: the daemon keeps running and exits on its own. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stdio: { type: "boolean" },
      bundle: { type: "string" },
      provider: { type: "string" },
      // LSP clients (vscode-languageclient's node transports among them) pass the editor's pid.
      clientProcessId: { type: "string" },
      // The same, renamed by daemon/argv-client-pid.ts before vscode-languageserver reads process.argv.
      "client-pid": { type: "string" },
      "max-message-mb": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(SERVE_USAGE + "\n");
    return 0;
  }
  if (!values.stdio) throw new UsageError("serve needs --stdio (the only transport)");
  const settings: DaemonSettings = {};
  if (values.bundle) settings.bundlePath = values.bundle;
  if (values.provider) {
    if (!isProviderChoice(values.provider)) throw new UsageError(`--provider must be one of auto, cpu, cuda, dml, coreml, webgpu; got "${values.provider}"`);
    settings.executionProvider = values.provider;
  }
  let maxMessageBytes: number | undefined;
  if (values["max-message-mb"] !== undefined) {
    const mb = Number(values["max-message-mb"]);
    if (!Number.isFinite(mb) || mb <= 0 || mb > 4096) throw new UsageError(`--max-message-mb must be a number of megabytes from 0 to 4096, got "${values["max-message-mb"]}"`);
    maxMessageBytes = Math.max(1, Math.floor(mb * 1024 * 1024));
  }
  let clientProcessId: number | undefined;
  const pidArg = values.clientProcessId ?? values["client-pid"];
  if (pidArg !== undefined) {
    clientProcessId = Number(pidArg);
    if (!Number.isInteger(clientProcessId) || clientProcessId <= 0) throw new UsageError(`--clientProcessId must be a process id, got "${pidArg}"`);
  }
  startDaemon({ settings, version, ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}), ...(clientProcessId !== undefined ? { clientProcessId } : {}) });
  return -1;
}
