/** Typed errors of the daemon's queue and request validation. */

/** A queued or running generation was replaced by a newer request for the same document. */
export class SupersededError extends Error {
  override readonly name = "SupersededError";
  constructor(key: string) {
    super(`generation for ${key} was superseded by a newer request for the same document`);
  }
}

/** The client cancelled the request ($/cancelRequest) before the generation finished. */
export class CancelledError extends Error {
  override readonly name = "CancelledError";
  constructor(what = "generation") {
    super(`${what} was cancelled by the client`);
  }
}

/** A request's params are malformed; `field` names the offending field (dotted path). */
export class InvalidParamsError extends Error {
  override readonly name = "InvalidParamsError";
  constructor(
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`invalid params: field '${field}' must be ${expected}, got ${describe(got)}`);
  }
}

/** No model is loaded (loading failed or is still running and was abandoned). */
export class EngineUnavailableError extends Error {
  override readonly name = "EngineUnavailableError";
  constructor(detail: string) {
    super(`the EDIT model is not available: ${detail}`);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
