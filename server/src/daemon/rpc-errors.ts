/**
 * Maps the daemon's and the engine's typed errors to JSON-RPC errors: bad requests are InvalidParams
 * (naming the field), cancellations are LSP RequestCancelled, everything else RequestFailed carrying
 * the typed error's message. Matching is by error name so the daemon does not depend on where the
 * engine keeps its error classes.
 */
import { ErrorCodes, LSPErrorCodes, ResponseError } from "vscode-languageserver/node";
import { InvalidParamsError } from "./errors";

const BAD_REQUEST = new Set(["RequestError", "StopRuleParamError", "UnknownStopRuleError"]);
const CANCELLED = new Set(["CancelledError", "SupersededError", "AbortError"]);

export interface ErrorData {
  name: string;
  field?: string;
}

export function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<ErrorData>;
  if (!(e instanceof Error)) return new ResponseError(LSPErrorCodes.RequestFailed, String(e), { name: "Error" });
  const data: ErrorData = { name: e.name };
  const field = (e as { field?: unknown }).field ?? (e as { param?: unknown }).param;
  if (typeof field === "string") data.field = field;
  if (e instanceof InvalidParamsError || BAD_REQUEST.has(e.name)) return new ResponseError(ErrorCodes.InvalidParams, e.message, data);
  if (CANCELLED.has(e.name)) return new ResponseError(LSPErrorCodes.RequestCancelled, e.message, data);
  return new ResponseError(LSPErrorCodes.RequestFailed, `${e.name}: ${e.message}`, data);
}

export function cancelledError(what: string): ResponseError<ErrorData> {
  return new ResponseError(LSPErrorCodes.RequestCancelled, `${what} was cancelled`, { name: "CancelledError" });
}
