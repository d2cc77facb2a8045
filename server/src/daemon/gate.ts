/**
 * The checks every incoming JSON-RPC message passes before vscode-languageserver sees it: the
 * JSON-RPC 2.0 envelope (https://www.jsonrpc.org/specification, "Request object", "Error object") and
 * the LSP lifecycle (initialize once, nothing but exit after shutdown). vscode-jsonrpc silently drops
 * requests whose id is null/boolean/object, answers one of two in-flight requests sharing an id, and
 * vscode-languageserver accepts a second initialize and requests before initialize or after shutdown;
 * here each of those gets the error code the specifications name.
 */

/** JSON-RPC 2.0 and LSP error codes used by the gate. */
export const WireErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  ServerNotInitialized: -32002,
} as const;

export type RequestId = string | number;

export interface WireError {
  code: number;
  message: string;
}

/** What to do with one parsed message. */
export type Verdict =
  /** Hand it to the connection. */
  | { kind: "pass"; message: Record<string, unknown> }
  /** Answer with an error (id null when the request's own id is unusable). */
  | { kind: "reply"; id: RequestId | null; error: WireError }
  /** A notification that cannot be answered: drop it, log `reason` (unless `quiet`: a normal race). */
  | { kind: "drop"; reason: string; quiet?: boolean };

/** Requests that take no params (LSP: `shutdown`; the daemon's `edit/status`): null is accepted there. */
const NO_PARAMS = new Set(["shutdown", "edit/status"]);

type Phase = "new" | "initialized" | "shut-down";

/**
 * The requests the daemon answers (server.ts registers a handler for each). Any other method is
 * -32601 Method not found, whatever its params (JSON-RPC 2.0 §5.1): the params check below applies
 * only to a method that exists.
 */
export const DAEMON_REQUESTS: ReadonlySet<string> = new Set(["initialize", "shutdown", "textDocument/inlineCompletion", "edit/generate", "edit/status"]);

export class MessageGate {
  private phase: Phase = "new";

  constructor(private readonly knownRequests: ReadonlySet<string> = DAEMON_REQUESTS) {}
  /** Ids of the client's requests that were passed on and not answered yet. */
  private readonly inFlight = new Set<string>();

  /** Checks one message (the parsed JSON body of a frame). */
  check(msg: unknown): Verdict {
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      return reply(null, WireErrorCodes.InvalidRequest, `invalid request: expected a JSON object, got ${kindOf(msg)}${Array.isArray(msg) ? " (batches are not supported)" : ""}`);
    }
    const m = msg as Record<string, unknown>;
    const hasId = Object.hasOwn(m, "id");
    const id = m.id;
    const validId = typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
    if (!Object.hasOwn(m, "method")) {
      // A response to one of the daemon's own requests (registerCapability, configuration, ...).
      if (validId && (Object.hasOwn(m, "result") || Object.hasOwn(m, "error"))) return { kind: "pass", message: m };
      if (hasId && (Object.hasOwn(m, "result") || Object.hasOwn(m, "error"))) return { kind: "drop", reason: `a response with an unusable id (${kindOf(id)})` };
      return reply(validId ? (id as RequestId) : null, WireErrorCodes.InvalidRequest, "invalid request: no 'method' and not a response");
    }
    const method = m.method;
    if (typeof method !== "string" || method.length === 0) {
      if (!hasId) return { kind: "drop", reason: `a notification whose method is ${kindOf(method)}` };
      return reply(validId ? (id as RequestId) : null, WireErrorCodes.InvalidRequest, `invalid request: 'method' must be a non-empty string, got ${kindOf(method)}`);
    }
    if (!hasId) return this.checkNotification(method, m);
    if (!validId) return reply(null, WireErrorCodes.InvalidRequest, `invalid request: 'id' must be a string or a number, got ${kindOf(id)}`);
    return this.checkRequest(id as RequestId, method, m);
  }

  /** The connection answered request `id` (call for every response the daemon writes). */
  answered(id: RequestId): void {
    this.inFlight.delete(idKey(id));
  }

  /** True once `shutdown` was received: `exit` then ends the process with code 0 (LSP), else 1. */
  get shutDown(): boolean {
    return this.phase === "shut-down";
  }

  /** Requests passed on and not yet answered. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private checkRequest(id: RequestId, method: string, m: Record<string, unknown>): Verdict {
    if (this.phase === "new" && method !== "initialize") {
      return reply(id, WireErrorCodes.ServerNotInitialized, `the server is not initialized: send 'initialize' before '${method}'`);
    }
    if (this.phase === "initialized" && method === "initialize") return reply(id, WireErrorCodes.InvalidRequest, "invalid request: 'initialize' was already received");
    if (this.phase === "shut-down") return reply(id, WireErrorCodes.InvalidRequest, `invalid request: '${method}' after 'shutdown' (only the 'exit' notification is accepted now)`);
    if (!this.knownRequests.has(method)) return reply(id, WireErrorCodes.MethodNotFound, `method not found: '${method.length > 80 ? method.slice(0, 80) + "..." : method}'`);
    const params = m.params;
    if (params !== undefined && !isObject(params) && !(params === null && NO_PARAMS.has(method))) {
      return reply(id, WireErrorCodes.InvalidParams, `invalid params: '${method}' takes its params as an object, got ${kindOf(params)}`);
    }
    const key = idKey(id);
    if (this.inFlight.has(key)) return reply(id, WireErrorCodes.InvalidRequest, `invalid request: id ${JSON.stringify(id)} is already used by a request in flight`);
    this.inFlight.add(key);
    if (method === "initialize") this.phase = "initialized";
    else if (method === "shutdown") this.phase = "shut-down";
    return { kind: "pass", message: m };
  }

  private checkNotification(method: string, m: Record<string, unknown>): Verdict {
    if (method === "exit") return { kind: "pass", message: m };
    if (this.phase === "new") return { kind: "drop", reason: `'${method}' before 'initialize'` };
    if (this.phase === "shut-down") return { kind: "drop", reason: `'${method}' after 'shutdown'` };
    const params = m.params;
    if (params !== undefined && params !== null && !isObject(params)) return { kind: "drop", reason: `'${method}' with params that are ${kindOf(params)}` };
    if (method === "$/cancelRequest") {
      const target = isObject(params) ? params.id : undefined;
      if (typeof target !== "string" && typeof target !== "number") return { kind: "drop", reason: "'$/cancelRequest' without a string or number params.id" };
      // A cancel that arrives after its answer is a normal race; vscode-jsonrpc would remember its id
      // for good (knownCanceledRequests), so it stops here.
      if (!this.inFlight.has(idKey(target))) return { kind: "drop", reason: `'$/cancelRequest' for ${JSON.stringify(target)}, not in flight`, quiet: true };
    } else if (params === null) {
      // vscode-languageserver's handlers read fields of their params without a null check.
      return { kind: "drop", reason: `'${method}' with null params` };
    }
    return { kind: "pass", message: m };
  }
}

function reply(id: RequestId | null, code: number, message: string): Verdict {
  return { kind: "reply", id, error: { code, message } };
}

function idKey(id: RequestId): string {
  return `${typeof id}:${String(id)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kindOf(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
