/**
 * Typed errors of the engine. Each carries what a user needs to act on it: which file, which field,
 * what value was expected. The CLI maps them to exit codes; the daemon maps them to JSON-RPC errors.
 */

/** A bundle file is missing, malformed, or disagrees with another bundle file. */
export class BundleError extends Error {
  override readonly name = "BundleError";
  constructor(
    /** Path of the offending file (or the bundle directory for a missing file). */
    readonly file: string,
    /** Dotted field path inside the file ("ids.mask", "tensor blocks.3.attn.q_proj.u"), or "" for the whole file. */
    readonly field: string,
    /** What the engine expected there, in words ("a positive integer", "float32 [160]"). */
    readonly expected: string,
    /** What was found, when known. */
    readonly found?: string,
  ) {
    super(
      `${file}${field ? `: field "${field}"` : ""}: expected ${expected}` + (found !== undefined ? `, found ${found}` : ""),
    );
  }
}

/** The ONNX model could not be loaded or run on the requested execution provider. */
export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(message: string, readonly provider?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A generation was cancelled through its AbortSignal; thrown between denoising steps. */
export class CancelledError extends Error {
  override readonly name = "CancelledError";
  constructor(message = "generation cancelled") {
    super(message);
  }
}

/** A generate request asks for something the bundle or the sampler cannot do (unknown task, bad lengths). */
export class RequestError extends Error {
  override readonly name = "RequestError";
  constructor(readonly field: string, readonly expected: string, readonly found?: string) {
    super(`request field "${field}": expected ${expected}` + (found !== undefined ? `, found ${found}` : ""));
  }
}

/** Bad command-line arguments (exit code 2). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
