/** `edit-dllm serve --stdio`: the JSON-RPC/LSP daemon (server/src/daemon) on stdin/stdout. */
import { parseArgs } from "node:util";
import type { DaemonSettings } from "../../../protocol/lsp";
import { startDaemon } from "../daemon/index";
import { UsageError } from "../errors";
import { isProviderChoice } from "../model/providers";

export const SERVE_USAGE = `usage: edit-dllm serve --stdio [--bundle DIR] [--provider P]
  JSON-RPC (LSP framing) on stdin/stdout; logs on stderr.`;

/** Returns -1: the daemon keeps running and exits on its own. */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stdio: { type: "boolean" },
      bundle: { type: "string" },
      provider: { type: "string" },
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
  startDaemon({ settings });
  return -1;
}
