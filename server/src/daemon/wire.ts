/**
 * The daemon's transport: a MessageReader that frames (framing.ts), parses and checks (gate.ts) every
 * incoming message before vscode-languageserver sees it, and a MessageWriter that tells the gate which
 * requests have been answered. Refusals are written through the same writer (its semaphore keeps a
 * refusal from interleaving with a response being written).
 */
import { AbstractMessageReader, StreamMessageWriter, type DataCallback, type Disposable, type Message, type MessageWriter } from "vscode-jsonrpc/node";
import { DEFAULT_MAX_MESSAGE_BYTES, FrameParser, type LargeBodyScreen } from "./framing";
import { MessageGate, WireErrorCodes, type RequestId } from "./gate";
import { jsonHead } from "./json-head";

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
  /**
   * The maximum prompt size in characters (setting maxPromptChars), read per message: an
   * `edit/generate` message too large to carry a prompt within it is answered from its first bytes
   * and skipped unread (issue 22). Absent: every message is read whole.
   */
  maxPromptChars?: () => number;
}

/** JSON escapes a character in at most 6 bytes (\uXXXX); the rest of a request is far below 64 KiB. */
const JSON_BYTES_PER_CHAR = 6;
const REQUEST_OVERHEAD_BYTES = 64 * 1024;
const PEEK_BYTES = 4096;

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
    ...(opts.maxPromptChars ? { maxPromptChars: opts.maxPromptChars } : {}),
  });
  return { reader, writer, gate };
}

export class GuardedMessageReader extends AbstractMessageReader {
  private readonly parser: FrameParser;
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });
  /** Counts of what was refused, for tests and the stress suite's figures. */
  readonly refused = { badHeaders: 0, parseErrors: 0, invalid: 0, dropped: 0, skipped: 0 };

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly gate: MessageGate,
    private readonly writer: MessageWriter,
    maxMessageBytes: number,
    private readonly log: (line: string) => void,
    private readonly hooks: Pick<WireOptions, "onExit" | "onClientProcessId" | "maxPromptChars"> = {},
  ) {
    super();
    const maxPromptChars = hooks.maxPromptChars;
    const screen: LargeBodyScreen | undefined = maxPromptChars && {
      above: () => maxPromptChars() * JSON_BYTES_PER_CHAR + REQUEST_OVERHEAD_BYTES,
      peekBytes: PEEK_BYTES,
      skip: (peek) => largeGenerateId(peek) !== null,
    };
    this.parser = new FrameParser({ maxMessageBytes, ...(screen ? { screen } : {}) });
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      for (const ev of this.parser.push(buf)) {
        if (ev.kind === "bad-header") {
          this.refused.badHeaders++;
          this.log(`refused a message header: ${ev.reason}; skipping to the next Content-Length header`);
        } else if (ev.kind === "skipped") this.refuseLargeGenerate(ev.peek, ev.length);
        else this.deliver(ev.body, callback);
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

  /**
   * An edit/generate too large for any prompt within maxPromptChars, known from its first bytes: the
   * gate still checks it as a request (lifecycle, a duplicate id), then it is answered as the engine
   * answers a prompt over the limit (InvalidParams naming the field and both sizes), its body unread.
   */
  private refuseLargeGenerate(peek: Buffer, length: number): void {
    const id = largeGenerateId(peek)!;
    this.refused.skipped++;
    const verdict = this.gate.check({ jsonrpc: "2.0", id, method: "edit/generate", params: {} });
    if (verdict.kind === "reply") return this.reply(verdict.id, verdict.error.code, verdict.error.message);
    const chars = this.hooks.maxPromptChars!();
    const message =
      `request field "prompt": expected at most ${chars} characters (the maximum prompt size, setting maxPromptChars), ` +
      `found a ${length}-byte message (a prompt within the limit fits in ${chars * JSON_BYTES_PER_CHAR + REQUEST_OVERHEAD_BYTES} bytes); the message was skipped unread`;
    this.log(`refused a ${length}-byte edit/generate from its first ${peek.length} bytes: larger than any prompt of at most ${chars} characters`);
    this.reply(id, WireErrorCodes.InvalidParams, message, { name: "RequestError", field: "prompt" });
  }

  private reply(id: RequestId | null, code: number, message: string, data?: { name: string; field?: string }): void {
    const response = { jsonrpc: "2.0", id, error: { code, message, ...(data ? { data } : {}) } };
    this.writer.write(response as Message).catch(() => undefined);
  }
}

/** The id of an edit/generate request from its first bytes (null: not one, or its head is unreadable). */
function largeGenerateId(peek: Buffer): RequestId | null {
  const head = jsonHead(peek);
  if (!head || head.get("method") !== "edit/generate") return null;
  const id = head.get("id");
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
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
