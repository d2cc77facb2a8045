/** How a rule file describes itself to the registry: name, role, parameters, factory. */
import type { ParamValue } from "../../../protocol/lsp";
import type { RuleContext } from "./context";
import type { ParamSpecs } from "./params";
import type { StopRule } from "./rule";

/**
 * "stop": decides when a block ends (full, fixed, edit, edit-subspace, edit-released).
 * "commit": commits masked positions early each step and never stops the block (confidence, jot, edit-token);
 * one exception: `less` variant=dream ends the generation at a settled eos when it runs alone.
 * A spec composes at most one stop rule with any number of commit rules: "edit+confidence".
 */
export type RuleRole = "stop" | "commit";

export interface RuleDefinition {
  readonly name: string;
  readonly role: RuleRole;
  /** One line for `edit-dllm rules` and the README. */
  readonly summary: string;
  readonly params: ParamSpecs;
  /** `params` holds only names from `this.params` (the registry routes and merges defaults first). */
  create(params: Readonly<Record<string, ParamValue>>, ctx: RuleContext): StopRule;
}
