/**
 * The daemon's transport: a MessageReader that frames (framing.ts), parses and checks (gate.ts) every
 * incoming message before vscode-languageserver sees it, and a MessageWriter that tells the gate which
 * requests have been answered. Refusals are written through the same writer (its semaphore keeps a
 * refusal from interleaving with a response being written).
 */
import { AbstractMessageReader, StreamMessageWriter, type DataCallback, type Disposable, type Message, type MessageWriter } from "vscode-jsonrpc/node";
import { DEFAULT_MAX_MESSAGE_BYTES, FrameParser } from "./framing";
import { MessageGate, WireErrorCodes, type RequestId } from "./gate";

export interface WireOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Largest accepted message body in bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /** One line per refused or dropped message (stderr in the daemon). */
  log: (line: string) => void;
  /**
   * The `exit` notification, taken here instead of by vscode-languageserver, whose handler calls
   * process.exit at once (while the inference worker may be inside a forward: issue 22).
   */
  onExit?: () => void;
  /**
   * `initialize`'s processId, taken out of the message for the same reason (vscode-languageserver's
   * watchdog would call process.exit when that process is gone); the daemon watches it itself.
   */
  onClientProcessId?: (pid: number) => void;
}

export interface Wire {
  reader: GuardedMessageReader;
  writer: AnsweringMessageWriter;
  gate: MessageGate;
}

export function createWire(opts: WireOptions): Wire {
  const gate = new MessageGate();
  const writer = new AnsweringMessageWriter(new StreamMessageWriter(opts.output), gate);
  const reader = new GuardedMessageReader(opts.input, gate, writer, opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, opts.log, {
    ...(opts.onExit ? { onExit: opts.onExit } : {}),
    ...(opts.onClientProcessId ? { onClientProcessId: opts.onClientProcessId } : {}),
  });
  return { reader, writer, gate };
}

export class GuardedMessageReader extends AbstractMessageReader {
  private readonly parser: FrameParser;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  /** Counts of what was refused, for tests and the stress suite's figures. */
  readonly refused = { badHeaders: 0, parseErrors: 0, invalid: 0, dropped: 0 };

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly gate: MessageGate,
    private readonly writer: MessageWriter,
    maxMessageBytes: number,
    private readonly log: (line: string) => void,
    private readonly hooks: Pick<WireOptions, "onExit" | "onClientProcessId"> = {},
  ) {
    super();
    this.parser = new FrameParser({ maxMessageBytes });
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      for (const ev of this.parser.push(buf)) {
        if (ev.kind === "bad-header") {
          this.refused.badHeaders++;
          this.log(`refused a message header: ${ev.reason}; skipping to the next Content-Length header`);
        } else this.deliver(ev.body, callback);
      }
    };
    const onError = (e: Error) => this.fireError(e);
    let closed = false;
    const onClose = () => {
      if (closed) return;
      closed = true;
      this.fireClose();
    };
    this.input.on("data", onData);
    this.input.on("error", onError);
    this.input.on("end", onClose);
    this.input.on("close", onClose);
    return {
      dispose: () => {
        this.input.off("data", onData);
        this.input.off("error", onError);
        this.input.off("end", onClose);
        this.input.off("close", onClose);
      },
    };
  }

  private deliver(body: Buffer, callback: DataCallback): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.decoder.decode(body));
    } catch (e) {
      this.refused.parseErrors++;
      // The content itself is not echoed (it may be a user's document).
      const why = e instanceof SyntaxError ? "not valid JSON" : "not valid UTF-8";
      this.log(`refused a ${body.length}-byte message: ${why}`);
      this.reply(null, WireErrorCodes.ParseError, `parse error: the ${body.length}-byte message is ${why}`);
      return;
    }
    const verdict = this.gate.check(parsed);
    if (verdict.kind === "pass") {
      const m = verdict.message;
      if (m.method === "exit" && !Object.hasOwn(m, "id") && this.hooks.onExit) return this.hooks.onExit();
      if (m.method === "initialize" && this.hooks.onClientProcessId) {
        const params = m.params as Record<string, unknown> | undefined;
        if (params && typeof params.processId === "number") {
          this.hooks.onClientProcessId(params.processId);
          callback({ ...m, params: { ...params, processId: null } } as unknown as Message);
          return;
        }
      }
      callback(m as unknown as Message);
    } else if (verdict.kind === "reply") {
      this.refused.invalid++;
      this.log(`refused a message: ${verdict.error.message} (code ${verdict.error.code})`);
      this.reply(verdict.id, verdict.error.code, verdict.error.message);
    } else {
      this.refused.dropped++;
      if (!verdict.quiet) this.log(`dropped a notification: ${verdict.reason}`);
    }
  }

  private reply(id: RequestId | null, code: number, message: string): void {
    const response = { jsonrpc: "2.0", id, error: { code, message } };
    this.writer.write(response as Message).catch(() => undefined);
  }
}

/** Delegates to a stream writer; every response it writes marks its request as answered in the gate. */
export class AnsweringMessageWriter implements MessageWriter {
  constructor(
    private readonly inner: MessageWriter,
    private readonly gate: MessageGate,
  ) {}

  get onError() {
    return this.inner.onError;
  }

  get onClose() {
    return this.inner.onClose;
  }

  write(msg: Message): Promise<void> {
    const m = msg as { id?: unknown; method?: unknown };
    if (m.method === undefined && (typeof m.id === "string" || typeof m.id === "number")) this.gate.answered(m.id);
    return this.inner.write(msg);
  }

  end(): void {
    this.inner.end();
  }

  dispose(): void {
    this.inner.dispose();
  }
}
