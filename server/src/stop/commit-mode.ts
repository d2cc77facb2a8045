/**
 * How a peer commit rule hands its set to the sampler. "As published" (the default): the sampler
 * commits exactly the rule's set, and the schedule's top-k_t (at least one token) only when the set is
 * empty, as the authors' code does (KLASS llada_klass.py L155-182; LESS llada_less.py, "Commit every
 * position that passed the joint rule" / "Fallback: top-k by confidence"; EB-sampler always accepts
 * at least the lowest-entropy token). `union=true`: this project's earlier variant, the rule's set on
 * top of the schedule's k_t (docs/evaluation.md measured the peers that way before issue 21).
 */
import type { BooleanParam } from "./params";
import type { StepDecision } from "./rule";

export const UNION_PARAM: BooleanParam = {
  type: "boolean",
  default: false,
  doc: "true: commit the rule's set on top of the schedule's k_t (the union variant); false: only the rule's set, as published",
};

/** The decision of a commit rule whose eligible set is `set` (ascending positions). */
export function commitDecision(set: number[], union: boolean): StepDecision {
  return union
    ? { stop: false, commitEarly: set, sims: null, kl: null, counter: null, margin: null }
    : { stop: false, commitOnly: set, sims: null, kl: null, counter: null, margin: null };
}
