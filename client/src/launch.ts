/**
 * How the extension starts the daemon. No vscode import: unit-tested in test/client/launch.test.ts.
 *
 * An Executable rather than vscode-languageclient's NodeModule transport: NodeModule always appends
 * `--stdio --clientProcessId=<pid>`, which the CLI's strict argument parser rejects. Running the
 * extension host's own runtime with ELECTRON_RUN_AS_NODE=1 is what NodeModule does under the hood;
 * the daemon exits when its stdin closes, which covers a dying editor. The client spawns it itself
 * (daemonProcess.ts) to keep its exit code and last stderr line.
 */
import { join } from "node:path";

export interface DaemonLaunch {
  command: string;
  args: string[];
  options: { cwd: string; env: Record<string, string | undefined> };
}

export function daemonLaunch(runtime: string, extensionPath: string, env: Record<string, string | undefined>, extraArgs: string[] = []): DaemonLaunch {
  return {
    command: runtime,
    args: [join(extensionPath, "dist", "cli.js"), "serve", "--stdio", ...extraArgs],
    options: { cwd: extensionPath, env: { ...env, ELECTRON_RUN_AS_NODE: "1" } },
  };
}
