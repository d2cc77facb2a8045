/**
 * Spawns the daemon for vscode-languageclient (a ServerOptions function) and keeps what a user needs
 * when it dies: its exit code or signal and the last lines it wrote to stderr. The library pipes
 * stderr to the EDIT output as before; this only remembers the tail for the status and the
 * "stopped retrying" message. No vscode import: unit-tested in test/client/daemonProcess.test.ts.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { DaemonLaunch } from "./launch";

export class DaemonProcess {
  private child: ChildProcess | null = null;
  private tail: string[] = [];
  private exit: string | null = null;
  private exitWaiters: Array<() => void> = [];

  constructor(private readonly launch: DaemonLaunch, private readonly keepLines = 3) {}

  /** The ServerOptions function: resolves once the process has spawned. */
  start(): Promise<ChildProcess> {
    this.tail = [];
    this.exit = null;
    const child = spawn(this.launch.command, this.launch.args, { cwd: this.launch.options.cwd, env: this.launch.options.env, stdio: "pipe" });
    this.child = child;
    let partial = "";
    child.stderr?.on("data", (b: Buffer) => {
      const lines = (partial + b.toString()).split(/\r?\n/);
      partial = lines.pop() ?? "";
      this.remember(lines);
    });
    child.on("exit", (code, signal) => {
      if (partial) this.remember([partial]);
      this.exit = code !== null ? `exit code ${code}` : `signal ${signal ?? "?"}`;
      this.exitWaiters.splice(0).forEach((w) => w());
    });
    return new Promise((resolve, reject) => {
      child.once("spawn", () => resolve(child));
      child.once("error", reject);
    });
  }

  private remember(lines: string[]): void {
    for (const l of lines) if (l.trim()) this.tail.push(l.trim());
    this.tail = this.tail.slice(-this.keepLines);
  }

  /** Waits up to `ms` for the process to exit (the connection usually closes a moment before). */
  exited(ms: number): Promise<void> {
    if (this.exit !== null || !this.child) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** "exit code 3: <last stderr line>" once it exited, else null. */
  describeExit(): string | null {
    if (this.exit === null) return null;
    const last = this.tail[this.tail.length - 1];
    return last ? `${this.exit}: ${last}` : this.exit;
  }

  /** Kills a process that outlived the client's stop (a hung daemon). */
  killIfAlive(): void {
    if (this.child && this.exit === null && this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}
