/**
 * Typed rule parameters: each rule declares its parameters once (type, default, accepted range, a
 * one-line doc) and gets back a typed object. Values arrive as `Record<string, number|string|boolean>`
 * from the CLI (`--param tau=0.5`, so numeric strings are accepted), the daemon or bundle.json.
 */
import type { ParamValue } from "../../../protocol/lsp";
import { StopRuleParamError } from "./errors";

export interface NumberParam {
  type: "number";
  default: number;
  /** Inclusive bounds unless the matching `...Exclusive` flag is set. */
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  integer?: boolean;
  doc: string;
}
export interface StringParam {
  type: "string";
  default: string;
  choices?: readonly string[];
  doc: string;
}
export interface BooleanParam {
  type: "boolean";
  default: boolean;
  doc: string;
}
export type ParamSpec = NumberParam | StringParam | BooleanParam;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

export type ParsedParams<S extends ParamSpecs> = {
  -readonly [K in keyof S]: S[K] extends NumberParam ? number : S[K] extends StringParam ? string : boolean;
};

/** The accepted range of a parameter in words, for error messages and `listStopRules()`. */
export function describeAccepted(spec: ParamSpec): string {
  if (spec.type === "boolean") return "true or false";
  if (spec.type === "string") return spec.choices ? `one of: ${spec.choices.join(", ")}` : "a string";
  const lo = spec.min === undefined ? "(-inf" : `${spec.minExclusive ? "(" : "["}${spec.min}`;
  const hi = spec.max === undefined ? "+inf)" : `${spec.max}${spec.maxExclusive ? ")" : "]"}`;
  return `${spec.integer ? "an integer" : "a number"} in ${lo}, ${hi}`;
}

function parseNumber(rule: string, name: string, spec: NumberParam, raw: ParamValue): number {
  let v: number;
  if (typeof raw === "number") v = raw;
  else if (typeof raw === "string" && raw.trim() !== "" && Number.isFinite(Number(raw))) v = Number(raw);
  else throw new StopRuleParamError(rule, name, describeAccepted(spec), JSON.stringify(raw));
  const bad =
    !Number.isFinite(v) ||
    (spec.integer && !Number.isInteger(v)) ||
    (spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min)) ||
    (spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max));
  if (bad) throw new StopRuleParamError(rule, name, describeAccepted(spec), String(raw));
  return v;
}

function parseOne(rule: string, name: string, spec: ParamSpec, raw: ParamValue): number | string | boolean {
  if (spec.type === "number") return parseNumber(rule, name, spec, raw);
  if (spec.type === "boolean") {
    if (typeof raw === "boolean") return raw;
    if (raw === "true" || raw === "false") return raw === "true";
    throw new StopRuleParamError(rule, name, describeAccepted(spec), JSON.stringify(raw));
  }
  if (typeof raw !== "string" || (spec.choices && !spec.choices.includes(raw))) {
    throw new StopRuleParamError(rule, name, describeAccepted(spec), JSON.stringify(raw));
  }
  return raw;
}

/** Parse `raw` against `specs`: unknown names and out-of-range values throw StopRuleParamError. */
export function parseParams<S extends ParamSpecs>(
  rule: string,
  specs: S,
  raw: Readonly<Record<string, ParamValue>>,
): ParsedParams<S> {
  const out: Record<string, number | string | boolean> = {};
  for (const name of Object.keys(raw)) {
    if (!Object.prototype.hasOwnProperty.call(specs, name)) {
      const known = Object.keys(specs);
      throw new StopRuleParamError(
        rule,
        name,
        known.length ? `one of the rule's parameters: ${known.join(", ")}` : "no parameters (this rule takes none)",
      );
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const given = Object.prototype.hasOwnProperty.call(raw, name) ? raw[name] : undefined;
    out[name] = given === undefined ? spec.default : parseOne(rule, name, spec, given);
  }
  return out as ParsedParams<S>;
}
