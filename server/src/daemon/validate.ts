/**
 * Checks of untrusted JSON from the client. Requests get InvalidParamsError naming the bad field;
 * settings (a notification, which cannot be answered) keep the valid fields and list the problems.
 */
import type { DaemonSettings, GenerateParams, ParamValue } from "../../../protocol/lsp";
import { InvalidParamsError } from "./errors";

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isParamValue(v: unknown): v is ParamValue {
  return typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

function optionalString(o: Json, field: string, path: string): string | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0) throw new InvalidParamsError(path, "a non-empty string", v);
  return v;
}

function optionalParamRecord(o: Json, field: string, path: string): Record<string, ParamValue> | undefined {
  const v = o[field];
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new InvalidParamsError(path, "an object of number/string/boolean values", v);
  const out: Record<string, ParamValue> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!isParamValue(x)) throw new InvalidParamsError(`${path}.${k}`, "a finite number, a string or a boolean", x);
    out[k] = x;
  }
  return out;
}

function positiveInt(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new InvalidParamsError(path, "a positive integer", v);
  return v;
}

/** `edit/generate` params. */
export function parseGenerateParams(raw: unknown): GenerateParams {
  if (!isObject(raw)) throw new InvalidParamsError("params", "an object { prompt, stop?, params?, task? }", raw);
  const prompt = raw.prompt;
  if (typeof prompt !== "string") throw new InvalidParamsError("prompt", "a string", prompt);
  const out: GenerateParams = { prompt };
  const stop = optionalString(raw, "stop", "stop");
  if (stop !== undefined) out.stop = stop;
  const params = optionalParamRecord(raw, "params", "params");
  if (params !== undefined) out.params = params;
  const task = optionalString(raw, "task", "task");
  if (task !== undefined) out.task = task;
  return out;
}

export interface CursorParams {
  uri: string;
  line: number;
  character: number;
}

/** The TextDocumentPositionParams part of `textDocument/inlineCompletion`. */
export function parseCursorParams(raw: unknown): CursorParams {
  if (!isObject(raw)) throw new InvalidParamsError("params", "an object { textDocument, position, context }", raw);
  const doc = raw.textDocument;
  if (!isObject(doc)) throw new InvalidParamsError("textDocument", "an object { uri }", doc);
  if (typeof doc.uri !== "string" || doc.uri.length === 0) throw new InvalidParamsError("textDocument.uri", "a non-empty string", doc.uri);
  const pos = raw.position;
  if (!isObject(pos)) throw new InvalidParamsError("position", "an object { line, character }", pos);
  for (const f of ["line", "character"] as const) {
    const v = pos[f];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) throw new InvalidParamsError(`position.${f}`, "a non-negative integer", v);
  }
  return { uri: doc.uri, line: pos.line as number, character: pos.character as number };
}

const PROVIDERS = ["auto", "cpu", "cuda", "dml", "coreml", "webgpu"] as const;

export interface ParsedSettings {
  settings: DaemonSettings;
  /** One line per ignored field, naming it and the expected value. */
  problems: string[];
}

/**
 * The "edit" settings section. Accepts the section itself or an object holding it under `edit`
 * (what workspace/didChangeConfiguration carries when the client pushes all settings).
 */
export function parseSettings(raw: unknown): ParsedSettings {
  const problems: string[] = [];
  const settings: DaemonSettings = {};
  if (raw === undefined || raw === null) return { settings, problems };
  if (!isObject(raw)) return { settings, problems: ["settings: expected an object with the 'edit' section"] };
  const o = isObject(raw.edit) ? raw.edit : raw;
  const take = (field: string, fn: () => void) => {
    if (o[field] === undefined || o[field] === null) return;
    try {
      fn();
    } catch (e) {
      problems.push(`edit.${field}: ${e instanceof InvalidParamsError ? e.message.replace(/^invalid params: /, "") : String(e)}`);
    }
  };
  take("bundlePath", () => {
    const v = optionalString(o, "bundlePath", "bundlePath");
    if (v !== undefined) settings.bundlePath = v;
  });
  take("executionProvider", () => {
    const v = o.executionProvider;
    const p = PROVIDERS.find((x) => x === v);
    if (!p) throw new InvalidParamsError("executionProvider", `one of ${PROVIDERS.join(", ")}`, v);
    settings.executionProvider = p;
  });
  take("stopRule", () => {
    const v = optionalString(o, "stopRule", "stopRule");
    if (v !== undefined) settings.stopRule = v;
  });
  take("stopParams", () => {
    const v = optionalParamRecord(o, "stopParams", "stopParams");
    if (v !== undefined) settings.stopParams = v;
  });
  for (const f of ["genLength", "blockLength", "steps", "threads", "maxPromptChars"] as const) {
    take(f, () => {
      settings[f] = positiveInt(o[f], f);
    });
  }
  take("cache", () => {
    const v = o.cache;
    if (v !== "none" && v !== "prefix" && v !== "dual") throw new InvalidParamsError("cache", '"none", "prefix" or "dual"', v);
    settings.cache = v;
  });
  // The inline confidence gate (issue 13, daemon/inline-gate.ts).
  take("inlineMinConfidence", () => {
    const v = o.inlineMinConfidence;
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw new InvalidParamsError("inlineMinConfidence", "a number from 0 to 1", v);
    settings.inlineMinConfidence = v;
  });
  take("inlineConfidenceStatistic", () => {
    const v = o.inlineConfidenceStatistic;
    if (v !== "mean" && v !== "min") throw new InvalidParamsError("inlineConfidenceStatistic", '"mean" or "min"', v);
    settings.inlineConfidenceStatistic = v;
  });
  return { settings, problems };
}
