/**
 * Test client for the daemon: spawns the real CLI (`serve --stdio`) and speaks JSON-RPC to it over
 * the child's stdio with vscode-jsonrpc, answering the server's requests (registerCapability,
 * workDoneProgress/create, workspace/configuration) and recording its notifications.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  CancellationTokenSource,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from "vscode-jsonrpc/node";
import type { StatusResult } from "../../protocol/lsp";

export const root = join(__dirname, "..", "..");
export const microBundle = join(root, "test", "fixtures", "micro-bundle");

export interface Registration {
  id: string;
  method: string;
  registerOptions?: unknown;
}

export interface ProgressValue {
  kind: "begin" | "report" | "end";
  [k: string]: unknown;
}

export interface DaemonProcess {
  child: ChildProcess;
  rpc: MessageConnection;
  registrations: Registration[];
  statuses: StatusResult[];
  progress: Map<string | number, ProgressValue[]>;
  createdProgressTokens: (string | number)[];
  stderr: () => string;
  /** Resolves with the child's exit code. */
  exited: Promise<number | null>;
  /** Resolves when a registration for `method` has arrived. */
  registered(method: string): Promise<Registration>;
  /** Resolves with the first status notification (current or future) whose state matches. */
  statusReached(state: StatusResult["state"]): Promise<StatusResult>;
  /** Sends a request with a cancellation source the test can trigger. */
  cancellable<R>(method: string, params: unknown): { result: Promise<R>; cancel: () => void };
}

/** `node dist/cli.js` when the bundle is newer than every source file; otherwise the sources through tsx. */
export function daemonCommand(): string[] {
  const dist = join(root, "dist", "cli.js");
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestSource()) return [dist, "serve", "--stdio"];
  return ["--import", "tsx", join(root, "server", "src", "cli.ts"), "serve", "--stdio"];
}

function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith(".ts")) newest = Math.max(newest, st.mtimeMs);
    }
  };
  walk(join(root, "server", "src"));
  walk(join(root, "protocol"));
  return newest;
}

export interface StartOptions {
  initializationOptions?: unknown;
  /** What the client answers to workspace/configuration for "edit". */
  configuration?: () => unknown;
  /** Node arguments in place of daemonCommand() (a debugging aid). */
  command?: string[];
}

export function spawnDaemon(opts: StartOptions = {}): DaemonProcess {
  const child = spawn(process.execPath, opts.command ?? daemonCommand(), { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const registrations: Registration[] = [];
  const statuses: StatusResult[] = [];
  const progress = new Map<string | number, ProgressValue[]>();
  const createdProgressTokens: (string | number)[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const until = <T>(probe: () => T | undefined): Promise<T> =>
    new Promise((resolve) => {
      const check = () => {
        const v = probe();
        if (v !== undefined) resolve(v);
        else waiters.push(check);
      };
      check();
    });

  rpc.onRequest("client/registerCapability", (p: { registrations: Registration[] }) => {
    registrations.push(...p.registrations);
    wake();
    return null;
  });
  rpc.onRequest("client/unregisterCapability", () => null);
  rpc.onRequest("window/workDoneProgress/create", (p: { token: string | number }) => {
    createdProgressTokens.push(p.token);
    return null;
  });
  rpc.onRequest("workspace/configuration", (p: { items: unknown[] }) => p.items.map(() => opts.configuration?.() ?? null));
  rpc.onRequest("window/showMessageRequest", () => null);
  rpc.onNotification("edit/status/didChange", (s: StatusResult) => {
    statuses.push(s);
    wake();
  });
  rpc.onNotification("$/progress", (p: { token: string | number; value: ProgressValue }) => {
    const list = progress.get(p.token) ?? [];
    list.push(p.value);
    progress.set(p.token, list);
    wake();
  });
  rpc.onNotification("window/logMessage", () => undefined);
  rpc.onNotification("window/showMessage", () => undefined);
  rpc.listen();

  return {
    child,
    rpc,
    registrations,
    statuses,
    progress,
    createdProgressTokens,
    stderr: () => err,
    exited,
    registered: (method) => until(() => registrations.find((r) => r.method === method)),
    statusReached: (state) => until(() => statuses.find((s) => s.state === state)),
    cancellable<R>(method: string, params: unknown) {
      const source = new CancellationTokenSource();
      const result = rpc.sendRequest<R>(method, params, source.token);
      return { result, cancel: () => source.cancel() };
    },
  };
}

/** The client capabilities a modern LSP client (VS Code) declares for what the daemon uses. */
export function clientCapabilities(dynamicInline = true) {
  return {
    window: { workDoneProgress: true },
    workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
    textDocument: {
      synchronization: { dynamicRegistration: true },
      inlineCompletion: { dynamicRegistration: dynamicInline },
    },
  };
}

/** initialize + initialized; returns the InitializeResult. */
export async function initialize(d: DaemonProcess, initializationOptions: unknown, dynamicInline = true) {
  const result = await d.rpc.sendRequest<{ capabilities: Record<string, unknown>; serverInfo?: { name: string } }>("initialize", {
    processId: process.pid,
    rootUri: null,
    capabilities: clientCapabilities(dynamicInline),
    initializationOptions,
  });
  await d.rpc.sendNotification("initialized", {});
  return result;
}

/** shutdown + exit; resolves with the exit code. */
export async function shutdown(d: DaemonProcess): Promise<number | null> {
  await d.rpc.sendRequest("shutdown");
  await d.rpc.sendNotification("exit");
  const code = await d.exited;
  d.rpc.dispose();
  return code;
}

/** Last-resort cleanup: never leave a daemon behind when a test fails half-way. */
export function kill(d: DaemonProcess): void {
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
  d.rpc.dispose();
}
