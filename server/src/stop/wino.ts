/**
 * WINO (Hong et al. 2025, "Wide-In, Narrow-Out: Revokable Decoding for Efficient and Effective DLLMs",
 * arXiv:2507.18578; the authors' `decoding_wino`), a commit rule that may take tokens back. Per forward:
 *   wide-in (draft): commit every masked token of the block with p_t(x0) > threshold (0.6); more than
 *     maxAccept = min(max(floor(0.7 |masked|), 5), 20) of them -> the maxAccept most confident; none ->
 *     the single most confident;
 *   narrow-out (verify), only when more than one token was drafted: every token committed earlier in
 *     the block whose probability under this forward is < thresholdBack (0.9) is masked again; when
 *     that is at least last step's draft size, only the (last draft - 1) least probable ones.
 * Deviation (documented): the authors verify in the same forward through a "shadow block" appended
 * to the sequence (each shadow position attends to the block but not to its own token, so it predicts
 * its token as if masked). Our bundles have no such attention input, so the verification probability
 * is the committed token's softmax probability in its own (visible) row of this forward. The block's
 * last forward commits everything left and re-masks nothing (the sampler's budget T_b), where the
 * authors loop until the block is filled.
 */
import type { RuleDefinition } from "./definition";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

/** Softmax probability (float64) of `id` in the logits row at `off`. */
function rowProb(logits: Float32Array, off: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let j = 0; j < vocab; j++) if (logits[off + j] > max) max = logits[off + j];
  let sum = 0;
  for (let j = 0; j < vocab; j++) sum += Math.exp(logits[off + j] - max);
  return Math.exp(logits[off + id] - max) / sum;
}

export const WINO_PARAMS = {
  threshold: { type: "number", default: 0.6, min: 0, max: 1, doc: "wide-in: draft every masked token with top-1 probability > threshold" },
  thresholdBack: { type: "number", default: 0.9, min: 0, max: 1, doc: "narrow-out: mask again a committed token whose probability is < thresholdBack" },
} as const satisfies ParamSpecs;

/** decoding_wino's `last_accept = 30` before a block's first forward. */
const FIRST_LAST_ACCEPT = 30;

export class WinoRule implements StopRule {
  readonly name = "wino";
  readonly polishSteps = 0;
  private lastAccept = FIRST_LAST_ACCEPT;
  private start = 0;
  private end = 0;

  constructor(private readonly p: { threshold: number; thresholdBack: number }) {}

  beginBlock(block: BlockInfo): void {
    this.lastAccept = FIRST_LAST_ACCEPT;
    this.start = block.start;
    this.end = block.end;
  }

  observe(view: StepView): StepDecision {
    const n = view.masked.length;
    const maxAccept = Math.min(Math.max(Math.floor(n * 0.7), 5), 20);
    const order = view.masked.map((_, i) => i).sort((a, b) => view.confidence[b] - view.confidence[a] || a - b);
    let draft = order.filter((i) => view.confidence[i] > this.p.threshold);
    if (draft.length > maxAccept) draft = draft.slice(0, maxAccept);
    else if (draft.length === 0 && n > 0) draft = [order[0]];
    const numAccept = draft.length;
    let remask: number[] = [];
    if (numAccept > 1) {
      const V = view.vocab;
      const back = view.visible
        .filter((pos) => pos >= this.start && pos < this.end)
        .map((pos) => ({ pos, prob: rowProb(view.logits, rowOffset(view, pos, V), V, view.ids[pos]) }))
        .filter((b) => b.prob < this.p.thresholdBack);
      if (back.length >= this.lastAccept) {
        back.sort((a, b) => a.prob - b.prob || a.pos - b.pos);
        back.length = Math.max(0, this.lastAccept - 1);
      }
      remask = back.map((b) => b.pos).sort((a, b) => a - b);
    }
    this.lastAccept = numAccept;
    return {
      stop: false,
      commitOnly: draft.map((i) => view.masked[i]).sort((a, b) => a - b),
      remask,
      sims: null,
      kl: null,
      counter: null,
      margin: null,
    };
  }

  blockThresholds(): null {
    return null;
  }
}

export const winoRule: RuleDefinition = {
  name: "wino",
  role: "commit",
  summary: "WINO (2025): draft every masked token with prob > 0.6 (at most 20), mask again earlier ones whose prob fell < 0.9",
  params: WINO_PARAMS,
  create(raw) {
    return new WinoRule(parseParams("wino", WINO_PARAMS, raw));
  },
};
