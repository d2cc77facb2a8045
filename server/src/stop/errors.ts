/**
 * Typed errors of the stop / commit rules. Each names the rule and what the user can change.
 * (Kept in this folder so the rules build without the engine; the CLI and daemon map them like
 * the engine's RequestError: a bad request, not a crash.)
 */

/** Base class: every error a rule factory or a rule raises. */
export class StopRuleError extends Error {
  override readonly name: string = "StopRuleError";
  constructor(readonly rule: string, message: string) {
    super(message);
  }
}

/** A rule parameter is unknown, has the wrong type, or lies outside its accepted range. */
export class StopRuleParamError extends StopRuleError {
  override readonly name = "StopRuleParamError";
  constructor(
    rule: string,
    /** The parameter's name as the user wrote it. */
    readonly param: string,
    /** The accepted values in words ("a number in (0, +inf)", "one of: tau, deltaFirst"). */
    readonly accepted: string,
    /** What was given, printed. */
    readonly found?: string,
  ) {
    super(
      rule,
      `stop rule "${rule}": parameter "${param}": expected ${accepted}` + (found !== undefined ? `, found ${found}` : ""),
    );
  }
}

/** The rule spec names no known rule, or composes rules in an unsupported way. */
export class UnknownStopRuleError extends StopRuleError {
  override readonly name = "UnknownStopRuleError";
  constructor(rule: string, readonly known: readonly string[], detail?: string) {
    super(
      rule,
      (detail ?? `unknown stop rule "${rule}"`) +
        `; known rules: ${known.join(", ")}; compose an early-stop rule with per-step commit rules as "edit+confidence"`,
    );
  }
}

/** The bundle's EDIT metadata or the forward's activations lack what the rule needs. */
export class StopRuleContextError extends StopRuleError {
  override readonly name = "StopRuleContextError";
  constructor(rule: string, readonly field: string, readonly expected: string) {
    super(rule, `stop rule "${rule}": ${field}: expected ${expected}`);
  }
}
