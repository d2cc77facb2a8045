/**
 * Maps the VS Code "edit" configuration section to the DaemonSettings the daemon receives in
 * workspace/didChangeConfiguration. No vscode import: unit-tested in test/client/settings.test.ts.
 */
import type { DaemonSettings, ParamValue } from "../../protocol/lsp";

export const EXECUTION_PROVIDERS = ["auto", "cpu", "cuda", "dml", "coreml", "webgpu"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** The raw values read from `workspace.getConfiguration("edit")` (anything the user typed). */
export interface RawEditConfig {
  bundlePath?: unknown;
  executionProvider?: unknown;
  stopRule?: unknown;
  stopParams?: unknown;
  genLength?: unknown;
  blockLength?: unknown;
  steps?: unknown;
  threads?: unknown;
  cache?: unknown;
  maxPromptChars?: unknown;
  debounceMs?: unknown;
  /** `edit.inline.minConfidence` / `edit.inline.confidenceStatistic`: the inline confidence gate. */
  inlineMinConfidence?: unknown;
  inlineConfidenceStatistic?: unknown;
}

/** Checks done against the machine, injected so that the mapping stays a pure function. */
export interface SettingsChecks {
  /** Null when `path` is a bundle folder, else what is wrong with it. */
  bundleProblem?(path: string): string | null;
  /** The rule names the running daemon knows (edit/status `rules`); unchecked while unknown. */
  knownRules?: readonly string[];
}

/** DaemonSettings key of each setting name a SettingsError carries (for keeping the previous value). */
const DAEMON_KEY: Record<string, keyof DaemonSettings> = {
  bundlePath: "bundlePath",
  executionProvider: "executionProvider",
  stopRule: "stopRule",
  stopParams: "stopParams",
  genLength: "genLength",
  blockLength: "blockLength",
  steps: "steps",
  threads: "threads",
  cache: "cache",
  maxPromptChars: "maxPromptChars",
  "inline.minConfidence": "inlineMinConfidence",
  "inline.confidenceStatistic": "inlineConfidenceStatistic",
};

export class SettingsError extends Error {
  constructor(readonly setting: string, expected: string, got: unknown) {
    super(`Setting "edit.${setting}" must be ${expected}; got ${JSON.stringify(got)}. Fix it in Settings (search "edit.${setting}").`);
    this.name = "SettingsError";
  }
}

export interface MappedSettings {
  daemon: DaemonSettings;
  debounceMs: number;
  /** One message per invalid setting; those settings are left out of `daemon` (the daemon keeps its default). */
  errors: SettingsError[];
}

export const DEFAULT_DEBOUNCE_MS = 150;

function positiveInt(name: string, v: unknown, errors: SettingsError[]): number | undefined {
  // 0 / null / "" mean "use the bundle's default".
  if (v === undefined || v === null || v === 0 || v === "") return undefined;
  if (typeof v === "number" && Number.isInteger(v) && v > 0) return v;
  errors.push(new SettingsError(name, "a positive integer (0 = the bundle's default)", v));
  return undefined;
}

function isParamValue(v: unknown): v is ParamValue {
  return (typeof v === "number" && Number.isFinite(v)) || typeof v === "string" || typeof v === "boolean";
}

/** Names in a rule spec such as "edit+confidence" that are not in `known`. */
export function unknownRules(spec: string, known: readonly string[]): string[] {
  return spec
    .split("+")
    .map((p) => p.trim())
    .filter((p) => !known.includes(p));
}

/**
 * Validates the user's configuration and maps it to DaemonSettings (empty values mean "bundle
 * default"). An invalid value is reported and, when `previous` had a value for it, that value is
 * kept: a typo in settings.json must not silently switch the daemon back to the bundle's default.
 */
export function toDaemonSettings(raw: RawEditConfig, previous: DaemonSettings = {}, checks: SettingsChecks = {}): MappedSettings {
  const mapped = mapSettings(raw, checks);
  for (const e of mapped.errors) {
    const key = DAEMON_KEY[e.setting.split(".")[0] === "stopParams" ? "stopParams" : e.setting];
    if (key && previous[key] !== undefined) (mapped.daemon as Record<string, unknown>)[key] = previous[key];
  }
  return mapped;
}

function mapSettings(raw: RawEditConfig, checks: SettingsChecks): MappedSettings {
  const errors: SettingsError[] = [];
  const daemon: DaemonSettings = {};

  if (typeof raw.bundlePath === "string" && raw.bundlePath.trim() !== "") {
    const path = raw.bundlePath.trim();
    const problem = checks.bundleProblem?.(path) ?? null;
    if (problem) errors.push(new SettingsError("bundlePath", `a bundle folder (${problem})`, raw.bundlePath));
    else daemon.bundlePath = path;
  } else if (raw.bundlePath !== undefined && raw.bundlePath !== null && raw.bundlePath !== "")
    errors.push(new SettingsError("bundlePath", "a folder path (string)", raw.bundlePath));

  if (raw.executionProvider !== undefined && raw.executionProvider !== null) {
    if ((EXECUTION_PROVIDERS as readonly unknown[]).includes(raw.executionProvider))
      daemon.executionProvider = raw.executionProvider as ExecutionProvider;
    else errors.push(new SettingsError("executionProvider", `one of ${EXECUTION_PROVIDERS.join(", ")}`, raw.executionProvider));
  }

  if (typeof raw.stopRule === "string" && raw.stopRule.trim() !== "") {
    const known = checks.knownRules;
    const unknown = known ? unknownRules(raw.stopRule, known) : [];
    if (known && unknown.length) errors.push(new SettingsError("stopRule", `rule names from ${known.join(", ")} (joined by "+"; unknown: ${unknown.join(", ")})`, raw.stopRule));
    else daemon.stopRule = raw.stopRule.trim();
  } else if (raw.stopRule !== undefined && raw.stopRule !== null && raw.stopRule !== "")
    errors.push(new SettingsError("stopRule", 'a rule name such as "edit" or "edit+confidence"', raw.stopRule));

  if (raw.stopParams !== undefined && raw.stopParams !== null) {
    if (typeof raw.stopParams === "object" && !Array.isArray(raw.stopParams)) {
      const params: Record<string, ParamValue> = {};
      for (const [k, v] of Object.entries(raw.stopParams as Record<string, unknown>)) {
        if (isParamValue(v)) params[k] = v;
        else errors.push(new SettingsError(`stopParams.${k}`, "a number, string or boolean", v));
      }
      if (Object.keys(params).length) daemon.stopParams = params;
    } else errors.push(new SettingsError("stopParams", 'an object such as {"deltaFirst": 0.05}', raw.stopParams));
  }

  const genLength = positiveInt("genLength", raw.genLength, errors);
  const blockLength = positiveInt("blockLength", raw.blockLength, errors);
  const steps = positiveInt("steps", raw.steps, errors);
  if (genLength !== undefined) daemon.genLength = genLength;
  if (blockLength !== undefined) daemon.blockLength = blockLength;
  if (steps !== undefined) daemon.steps = steps;
  // The sampler needs whole blocks and a whole number of forwards per block (docs/bundle-contract.md).
  if (genLength !== undefined && blockLength !== undefined && genLength % blockLength !== 0) {
    errors.push(new SettingsError("genLength", `a multiple of edit.blockLength (${blockLength})`, genLength));
    delete daemon.genLength;
    delete daemon.blockLength;
  } else if (genLength !== undefined && blockLength !== undefined && steps !== undefined && steps % (genLength / blockLength) !== 0) {
    errors.push(new SettingsError("steps", `a multiple of the number of blocks (${genLength / blockLength})`, steps));
    delete daemon.steps;
  }

  const threads = positiveInt("threads", raw.threads, errors);
  if (threads !== undefined) daemon.threads = threads;
  const maxPromptChars = positiveInt("maxPromptChars", raw.maxPromptChars, errors);
  if (maxPromptChars !== undefined) daemon.maxPromptChars = maxPromptChars;
  // "auto" (the default): the daemon runs the mode the bundle states it is fastest with (bundle.json generation.cache).
  if (raw.cache !== undefined && raw.cache !== null && raw.cache !== "auto") {
    if (raw.cache === "none" || raw.cache === "prefix" || raw.cache === "dual") daemon.cache = raw.cache;
    else errors.push(new SettingsError("cache", '"auto", "none", "prefix" or "dual"', raw.cache));
  }

  if (raw.inlineMinConfidence !== undefined && raw.inlineMinConfidence !== null) {
    const v = raw.inlineMinConfidence;
    if (typeof v === "number" && v >= 0 && v <= 1) daemon.inlineMinConfidence = v;
    else errors.push(new SettingsError("inline.minConfidence", "a number from 0 (show every completion) to 1", v));
  }
  if (raw.inlineConfidenceStatistic !== undefined && raw.inlineConfidenceStatistic !== null) {
    const v = raw.inlineConfidenceStatistic;
    if (v === "mean" || v === "min") daemon.inlineConfidenceStatistic = v;
    else errors.push(new SettingsError("inline.confidenceStatistic", '"mean" or "min"', v));
  }

  let debounceMs = DEFAULT_DEBOUNCE_MS;
  if (raw.debounceMs !== undefined && raw.debounceMs !== null) {
    if (typeof raw.debounceMs === "number" && Number.isFinite(raw.debounceMs) && raw.debounceMs >= 0) debounceMs = Math.round(raw.debounceMs);
    else errors.push(new SettingsError("debounceMs", "a number of milliseconds >= 0", raw.debounceMs));
  }
  return { daemon, debounceMs, errors };
}

/** Settings whose change needs the daemon process restarted rather than a didChangeConfiguration. */
export function needsRestart(before: DaemonSettings, after: DaemonSettings): boolean {
  return before.bundlePath !== after.bundlePath || before.executionProvider !== after.executionProvider;
}
