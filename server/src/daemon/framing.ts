/**
 * LSP base-protocol framing ("Content-Length: N\r\n\r\n" + N bytes of JSON), parsed defensively.
 *
 * Why our own parser in front of vscode-jsonrpc: its ReadableStreamMessageReader (9.0.3) accepts a
 * negative Content-Length and miscounts its buffer (the daemon then stays alive but deaf to every
 * later message, shutdown included), and parseInt("1e20") style headers block it for good. Here every
 * header block is checked (a decimal Content-Length no larger than the maximum message size, at most
 * one, a header block of bounded size) and a bad one is reported and skipped: the parser resynchronises
 * at the next "Content-Length:" (also right after garbage, as when a writer died mid-frame), so one bad
 * frame costs that frame only.
 *
 * A body larger than `screen.above()` is not buffered at once: its first `screen.peekBytes` are, and
 * `screen.skip(peek, length)` decides whether the rest is read or skipped unread (issue 22: a 60 MB
 * edit/generate cost +29 MB of RSS just to be read and parsed before its size could be refused).
 */

/** What the parser produced from the bytes pushed so far, in stream order. */
export type FrameEvent =
  | { kind: "frame"; body: Buffer }
  /** A header block that was refused; `reason` is a line for the log (never the body's content). */
  | { kind: "bad-header"; reason: string }
  /** A large body the screen chose to skip: its first bytes and its full length (the rest is dropped unread). */
  | { kind: "skipped"; peek: Buffer; length: number };

/** Screens large bodies by their first bytes (see the header). */
export interface LargeBodyScreen {
  /** Bodies longer than this many bytes are screened (read per message: the bound may follow a setting). */
  above(): number;
  /** How many leading bytes the decision reads. */
  peekBytes: number;
  /** True: skip the rest of the body unread (a "skipped" event follows); false: read it as usual. */
  skip(peek: Buffer, length: number): boolean;
}

export interface FrameParserOptions {
  /** Largest accepted Content-Length in bytes. */
  maxMessageBytes: number;
  /** Largest header block in bytes (headers are two short lines in practice). */
  maxHeaderBytes?: number;
  screen?: LargeBodyScreen;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from("\r\n\r\n", "ascii");
const CONTENT_LENGTH = "content-length:";

export class FrameParser {
  private readonly maxMessageBytes: number;
  private readonly maxHeaderBytes: number;
  /** Bytes of the header block being read (or, while resynchronising, the unscanned tail). */
  private head: Buffer = Buffer.alloc(0);
  /** The body being filled once its header was accepted: one allocation, no repeated concatenation. */
  private body: Buffer | null = null;
  private bodyFilled = 0;
  /** True after a bad header: bytes are skipped up to the next "Content-Length:". */
  private resyncing = false;
  /** A screened body: its first bytes while they are read, then the bytes left to drop when skipped. */
  private peek: Buffer | null = null;
  private peekFilled = 0;
  private peekLength = 0;
  private skipLeft = 0;
  private readonly screen: LargeBodyScreen | undefined;

  constructor(opts: FrameParserOptions) {
    if (!Number.isInteger(opts.maxMessageBytes) || opts.maxMessageBytes < 1) {
      throw new RangeError(`maxMessageBytes must be a positive integer, got ${opts.maxMessageBytes}`);
    }
    this.maxMessageBytes = opts.maxMessageBytes;
    this.maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    this.screen = opts.screen;
  }

  /** Feeds bytes; returns the frames and refusals they completed. */
  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (this.skipLeft > 0) {
        const n = Math.min(data.length, this.skipLeft);
        this.skipLeft -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.peek) {
        data = this.fillPeek(data, out);
        continue;
      }
      if (this.body) {
        const n = Math.min(data.length, this.body.length - this.bodyFilled);
        data.copy(this.body, this.bodyFilled, 0, n);
        this.bodyFilled += n;
        data = data.subarray(n);
        if (this.bodyFilled === this.body.length) {
          out.push({ kind: "frame", body: this.body });
          this.body = null;
        }
        continue;
      }
      this.head = this.head.length ? Buffer.concat([this.head, data]) : data;
      data = Buffer.alloc(0);
      if (this.resyncing && !this.resync()) break;
      const end = this.head.indexOf(HEADER_END);
      if (end < 0 || end > this.maxHeaderBytes) {
        if (end < 0 && this.head.length <= this.maxHeaderBytes) break;
        // Skip the oversized block's start only: a real header may follow the garbage.
        this.refuse(out, `a header block longer than ${this.maxHeaderBytes} bytes`, 1);
        data = this.takeHead();
        continue;
      }
      const verdict = parseHeaderBlock(this.head.subarray(0, end).toString("latin1"), this.maxMessageBytes);
      if (typeof verdict === "string") {
        this.refuse(out, verdict, end + HEADER_END.length);
        data = this.takeHead();
        continue;
      }
      const rest = this.head.subarray(end + HEADER_END.length);
      this.head = Buffer.alloc(0);
      if (verdict === 0) out.push({ kind: "frame", body: Buffer.alloc(0) });
      else if (this.screen && verdict > this.screen.above() && this.screen.peekBytes < verdict) {
        this.peek = Buffer.allocUnsafe(this.screen.peekBytes);
        this.peekFilled = 0;
        this.peekLength = verdict;
      } else {
        this.body = Buffer.allocUnsafe(verdict);
        this.bodyFilled = 0;
      }
      data = rest;
    }
    return out;
  }

  /** Bytes still held (a partial header or body); 0 between messages. */
  get pendingBytes(): number {
    return this.head.length + (this.body ? this.bodyFilled : 0) + (this.peek ? this.peekFilled : 0);
  }

  /** Reads a screened body's first bytes; once they are in, skips the rest or reads on as a whole body. */
  private fillPeek(data: Buffer, out: FrameEvent[]): Buffer {
    const peek = this.peek!;
    const n = Math.min(data.length, peek.length - this.peekFilled);
    data.copy(peek, this.peekFilled, 0, n);
    this.peekFilled += n;
    if (this.peekFilled < peek.length) return data.subarray(n);
    this.peek = null;
    if (this.screen!.skip(peek, this.peekLength)) {
      out.push({ kind: "skipped", peek, length: this.peekLength });
      this.skipLeft = this.peekLength - peek.length;
    } else {
      this.body = Buffer.allocUnsafe(this.peekLength);
      peek.copy(this.body);
      this.bodyFilled = peek.length;
    }
    return data.subarray(n);
  }

  private refuse(out: FrameEvent[], reason: string, consumed: number): void {
    out.push({ kind: "bad-header", reason });
    this.head = this.head.subarray(consumed);
    this.resyncing = true;
  }

  private takeHead(): Buffer {
    const h = this.head;
    this.head = Buffer.alloc(0);
    return h;
  }

  /**
   * Drops bytes up to the next "Content-Length:" (case-insensitive). Returns false when none is in
   * sight yet (keeping only a tail that could be the start of one).
   */
  private resync(): boolean {
    const at = this.head.toString("latin1").toLowerCase().indexOf(CONTENT_LENGTH);
    if (at < 0) {
      const keep = Math.min(this.head.length, CONTENT_LENGTH.length - 1);
      this.head = Buffer.from(this.head.subarray(this.head.length - keep));
      return false;
    }
    this.head = this.head.subarray(at);
    this.resyncing = false;
    return true;
  }
}

/** The body length of a valid header block, or a reason for refusing it. */
export function parseHeaderBlock(block: string, maxMessageBytes: number): number | string {
  let length: number | null = null;
  for (const line of block.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `a header line without "Name: value" (${describeLine(line)})`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") {
      if (length !== null) return "two Content-Length headers";
      if (!/^\d+$/.test(value)) return `Content-Length ${describeLine(value)} is not a non-negative decimal integer`;
      const n = Number(value);
      if (value.length > 16 || n > maxMessageBytes) return `Content-Length ${value} exceeds the maximum message size of ${maxMessageBytes} bytes`;
      length = n;
    } else if (name === "content-type") {
      const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(value)?.[1]?.toLowerCase();
      if (charset && charset !== "utf-8" && charset !== "utf8") return `Content-Type charset ${describeLine(charset)} is not utf-8`;
    }
  }
  if (length === null) return "a header block without Content-Length";
  return length;
}

/** A header value for a log line: quoted, cut short, control characters escaped. */
function describeLine(s: string): string {
  const cut = s.length > 24 ? s.slice(0, 24) + "..." : s;
  return JSON.stringify(cut);
}
