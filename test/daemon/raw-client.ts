/**
 * A raw-bytes client for the daemon: writes arbitrary bytes (well-formed frames or hostile ones) to
 * the child's stdin and reads its answers with vscode-jsonrpc's own StreamMessageReader (an
 * independent parser of what the daemon writes). Answers the daemon's requests to the client.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { StreamMessageReader, type Message } from "vscode-jsonrpc/node";
import { daemonCommand, root } from "./lsp-client";

export interface RawAnswer {
  id: string | number | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RawDaemon {
  child: ChildProcess;
  /** Every response to the test's requests, in arrival order. */
  answers: RawAnswer[];
  notifications: { method: string; params: unknown }[];
  stderr: () => string;
  exited: Promise<number | null>;
  write(bytes: string | Buffer): void;
  /** Frames `body` (a JSON value or a literal string) with a correct Content-Length. */
  send(body: unknown): void;
  request(id: string | number, method: string, params?: unknown): void;
  notify(method: string, params?: unknown): void;
  /** Resolves with the first answer (present or future) that matches. */
  answer(match: (a: RawAnswer) => boolean, what?: string): Promise<RawAnswer>;
  /** Resolves when `n` answers have arrived in total. */
  answerCount(n: number): Promise<void>;
  kill(): void;
}

export function frame(body: string | Buffer): Buffer {
  const b = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`, "ascii"), b]);
}

export function spawnRaw(opts: { env?: NodeJS.ProcessEnv; args?: string[]; configuration?: unknown } = {}): RawDaemon {
  const child = spawn(process.execPath, [...daemonCommand(), ...(opts.args ?? [])], { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin!.on("error", () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const answers: RawAnswer[] = [];
  const notifications: { method: string; params: unknown }[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const reader = new StreamMessageReader(child.stdout!);
  const write = (bytes: string | Buffer) => {
    if (child.stdin!.writable) child.stdin!.write(bytes);
  };
  const send = (body: unknown) => write(frame(typeof body === "string" ? body : JSON.stringify(body)));
  reader.listen((m: Message) => {
    const msg = m as { id?: string | number | null; method?: string; params?: unknown; result?: unknown; error?: RawAnswer["error"] };
    if (typeof msg.method === "string") {
      if (msg.id === undefined) notifications.push({ method: msg.method, params: msg.params });
      else {
        // The daemon's requests to the client: configuration gets the test's settings, the rest null.
        const result = msg.method === "workspace/configuration" ? ((msg.params as { items: unknown[] }).items ?? []).map(() => opts.configuration ?? null) : null;
        send({ jsonrpc: "2.0", id: msg.id, result });
      }
    } else {
      answers.push({ id: msg.id ?? null, ...(msg.error ? { error: msg.error } : { result: msg.result }) });
    }
    wake();
  });
  const until = (probe: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = () => (probe() ? resolve() : waiters.push(check));
      check();
    });
  return {
    child,
    answers,
    notifications,
    stderr: () => err,
    exited,
    write,
    send,
    request: (id, method, params) => send({ jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) }),
    notify: (method, params) => send({ jsonrpc: "2.0", method, ...(params !== undefined ? { params } : {}) }),
    async answer(match) {
      let found: RawAnswer | undefined;
      await until(() => (found = answers.find(match)) !== undefined);
      return found!;
    },
    answerCount: (n) => until(() => answers.length >= n),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/** initialize (id "init") + initialized with the given settings; waits for the answer. */
export async function rawInitialize(d: RawDaemon, settings: unknown): Promise<RawAnswer> {
  d.request("init", "initialize", { processId: process.pid, rootUri: null, capabilities: { workspace: { configuration: true } }, initializationOptions: settings });
  const a = await d.answer((x) => x.id === "init");
  d.notify("initialized", {});
  return a;
}
