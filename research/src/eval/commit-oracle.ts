/**
 * An oracle for commit rules (issue 14, item 3): given full's output, commit at every step each masked
 * position whose x0 already equals full's token there, and stop the block (argmax fill) as soon as
 * every masked position's x0 does. Any commit rule commits x0 of the forward it sees, so this is the
 * greedy "commit everything that is already right" order.
 *
 * What it is and is not: it is an achievable commit order (the sampler still commits the schedule's
 * k_t by confidence, and those may be wrong), so its forwards are an UPPER bound on the fewest forwards
 * any commit order needs to reproduce full's output, on the items where it does reproduce it (the
 * report counts them); committing a right token early can in principle change later predictions, so
 * greedy is not proven optimal. The matching LOWER bound we can state is 1 forward per block (the
 * stop-step oracle reaches 1 only when the first forward's argmax already is full's block). We report
 * the greedy oracle's forwards together with its agreement with full.
 */
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../../server/src/public";

export const COMMIT_ORACLE_SPEC = "eval-commit-oracle";

export class CommitOracleRule implements StopRule {
  readonly name = COMMIT_ORACLE_SPEC;
  readonly polishSteps = 0;
  /** @param target full's generated ids (genLength of them; the generation ends the sequence). */
  constructor(private readonly target: readonly number[]) {}
  beginBlock(_block: BlockInfo): void {}
  observe(view: StepView): StepDecision {
    const genStart = view.seqLen - this.target.length;
    const right: number[] = [];
    view.masked.forEach((p, i) => {
      if (view.x0[i] === this.target[p - genStart]) right.push(p);
    });
    const stop = right.length === view.masked.length;
    return { stop, commitEarly: stop ? [] : right, sims: null, kl: null, counter: null, margin: null };
  }
  blockThresholds(): null {
    return null;
  }
}
