/**
 * Rule lookup and composition. A spec is a rule name ("edit") or an early-stop rule composed with
 * per-step commit rules ("edit+confidence", "edit+jot", "edit-released+confidence", "full+jot"):
 * the stop rule decides when the block ends (stop, trace fields, thresholds, certificate, polish);
 * each commit rule adds positions to `commitEarly` (their union, ascending), or to `commitOnly` for
 * the rules that commit only their own set (the union of those sets), and to `remask` (WINO).
 *
 * Parameters: the task's calibrated defaults (ctx.defaults) are merged under the user's params.
 * Defaults are calibrated for the task's own rule, so a default that names no parameter of the
 * chosen rules is dropped; a user param that no chosen rule accepts is an error. In a composition a
 * param goes to every part that declares it. A variant switch among the defaults (`union`,
 * `variant`) says which form of the task's own rule was calibrated, not a threshold: it reaches only
 * the parts that are rules of the task's own spec (ctx.defaultsSpec), so "less" on a task calibrated
 * as "jot+eb-sampler" with union=true still runs as published.
 */
import type { ParamValue } from "../../../protocol/lsp";
import type { CertificateFlags } from "../../../protocol/trace";
import { confidenceRule } from "./confidence";
import { creditDecodingRule } from "./credit-decoding";
import { dusRule } from "./dus";
import type { RuleContext } from "./context";
import type { RuleDefinition } from "./definition";
import { ebSamplerRule } from "./eb-sampler";
import { editRule } from "./edit";
import { editCosRule } from "./edit-cos";
import { editReleasedRule } from "./edit-released";
import { editSubspaceRule } from "./edit-subspace";
import { editTokenRule } from "./edit-token";
import { StopRuleParamError, UnknownStopRuleError } from "./errors";
import { fixedRule } from "./fixed";
import { fullRule } from "./full";
import { jotRule } from "./jot";
import { klassRule } from "./klass";
import { learnedRule } from "./learned";
import { lessRule } from "./less";
import { prophetRule } from "./prophet";
import { describeAccepted } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { schedRule } from "./sched";
import { stableConfidentRule } from "./stable-confident";
import { winoRule } from "./wino";

const DEFINITIONS: readonly RuleDefinition[] = [
  fullRule,
  fixedRule,
  editRule,
  editReleasedRule,
  editSubspaceRule,
  editTokenRule,
  jotRule,
  confidenceRule,
  // The newer peers (issue 14) and EDIT's signal per token.
  stableConfidentRule,
  schedRule,
  lessRule,
  klassRule,
  ebSamplerRule,
  editCosRule,
  // Issue 21: the newest peers.
  prophetRule,
  winoRule,
  creditDecodingRule,
  dusRule,
  learnedRule,
];
const BY_NAME = new Map(DEFINITIONS.map((d) => [d.name, d]));

export interface StopRuleListing {
  name: string;
  role: RuleDefinition["role"];
  summary: string;
  params: { name: string; type: string; default: ParamValue; accepted: string; doc: string }[];
}

/** Every rule with its parameters, defaults and accepted ranges (CLI `rules`, README). */
export function listStopRules(): StopRuleListing[] {
  return DEFINITIONS.map((d) => ({
    name: d.name,
    role: d.role,
    summary: d.summary,
    params: Object.entries(d.params).map(([name, spec]) => ({
      name,
      type: spec.type,
      default: spec.default,
      accepted: describeAccepted(spec),
      doc: spec.doc,
    })),
  }));
}

/** Split "edit+confidence" into definitions: at most one stop rule, which must come first. */
function resolveSpec(spec: string): RuleDefinition[] {
  const known = DEFINITIONS.map((d) => d.name);
  const names = spec.split("+").map((s) => s.trim());
  const defs = names.map((n) => {
    const d = BY_NAME.get(n);
    if (!d) throw new UnknownStopRuleError(n, known, `unknown stop rule "${n}"${names.length > 1 ? ` in "${spec}"` : ""}`);
    return d;
  });
  if (new Set(names).size !== names.length) {
    throw new UnknownStopRuleError(spec, known, `"${spec}" names a rule twice`);
  }
  if (defs.slice(1).some((d) => d.role === "stop")) {
    throw new UnknownStopRuleError(
      spec,
      known,
      `"${spec}" composes more than one early-stop rule or puts one after a commit rule: write the stop rule (${DEFINITIONS.filter(
        (d) => d.role === "stop",
      )
        .map((d) => d.name)
        .join(", ")}) first, then commit rules (${DEFINITIONS.filter((d) => d.role === "commit")
        .map((d) => d.name)
        .join(", ")})`,
    );
  }
  return defs;
}

/** Runs one stop rule and several commit rules as one StopRule. */
class ComposedRule implements StopRule {
  readonly polishSteps: number;
  readonly wantsRowsToEnd: boolean;
  constructor(
    readonly name: string,
    private readonly stopRule: StopRule | null,
    private readonly commitRules: StopRule[],
  ) {
    this.polishSteps = stopRule?.polishSteps ?? 0;
    this.wantsRowsToEnd = [stopRule, ...commitRules].some((r) => r?.wantsRowsToEnd === true);
  }
  beginBlock(block: BlockInfo): void {
    this.stopRule?.beginBlock(block);
    for (const r of this.commitRules) r.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const base: StepDecision = this.stopRule?.observe(view) ?? { stop: false };
    const early = new Set(base.commitEarly ?? []);
    // Rules that commit only their own set: the union of their sets (still "only": no schedule on top).
    let only: Set<number> | null = base.commitOnly ? new Set(base.commitOnly) : null;
    const remask = new Set(base.remask ?? []);
    for (const r of this.commitRules) {
      const d = r.observe(view);
      for (const p of d.commitEarly ?? []) early.add(p);
      if (d.commitOnly) {
        only ??= new Set();
        for (const p of d.commitOnly) only.add(p);
      }
      for (const p of d.remask ?? []) remask.add(p);
    }
    const asc = (s: Set<number>) => [...s].sort((a, b) => a - b);
    return {
      ...base,
      commitEarly: asc(early),
      ...(only ? { commitOnly: asc(only) } : {}),
      ...(remask.size > 0 ? { remask: asc(remask) } : {}),
    };
  }
  blockThresholds(): { delta: number; omega: number } | null {
    return this.stopRule?.blockThresholds() ?? null;
  }
  certificate(): CertificateFlags | null {
    return this.stopRule?.certificate?.() ?? null;
  }
}

/** Defaults that pick a form of a rule rather than tune it (see the header). */
const VARIANT_SWITCHES: ReadonlySet<string> = new Set(["union", "variant"]);

function calibratedRules(spec: string | undefined, chosen: RuleDefinition[]): RuleDefinition[] {
  if (!spec) return chosen;
  try {
    return resolveSpec(spec);
  } catch {
    return []; // a bundle naming an unknown rule gets no variant switches (its own load reports the name)
  }
}

/** Build the rule a spec names, with the user's params over the task's calibrated defaults. */
export function createStopRule(spec: string, params: Record<string, ParamValue>, ctx: RuleContext): StopRule {
  const defs = resolveSpec(spec);
  const accepts = (name: string) => defs.some((d) => Object.prototype.hasOwnProperty.call(d.params, name));
  for (const name of Object.keys(params)) {
    if (!accepts(name)) {
      const all = [...new Set(defs.flatMap((d) => Object.keys(d.params)))];
      throw new StopRuleParamError(
        spec,
        name,
        all.length ? `one of the parameters of "${spec}": ${all.join(", ")}` : `no parameters ("${spec}" takes none)`,
      );
    }
  }
  const calibrated = new Set(calibratedRules(ctx.defaultsSpec, defs).map((d) => d.name));
  const rules = defs.map((d) => {
    const own: Record<string, ParamValue> = {};
    const declares = (k: string) => Object.prototype.hasOwnProperty.call(d.params, k);
    for (const [k, v] of Object.entries(ctx.defaults)) {
      if (declares(k) && (!VARIANT_SWITCHES.has(k) || calibrated.has(d.name))) own[k] = v;
    }
    for (const [k, v] of Object.entries(params)) if (declares(k)) own[k] = v;
    return d.create(own, ctx);
  });
  if (rules.length === 1) return rules[0];
  const hasStop = defs[0].role === "stop";
  return new ComposedRule(spec, hasStop ? rules[0] : null, hasStop ? rules.slice(1) : rules);
}
