/**
 * Stable-and-confident block stop: DiffusionGemma's `StableAndConfidentStoppingCriteria`
 * (transformers 5.x, models/diffusion_gemma/generation_diffusion_gemma.py), a stop rule.
 * The reference stops a block when
 *   stable:    the argmax canvas equals each of the previous `stability_threshold` argmax canvases
 *              (a history buffer initialised to -1, so the first `stability_threshold` steps are never
 *              stable; 0 = always stable), and
 *   confident: the mean over the canvas of the per-position entropy of the logits is below
 *              `confidence_threshold` (strict `<`, as transformers' own test pins it),
 * with defaults stability_threshold 1, confidence_threshold 0.005 (nats).
 * Our instantiation for an absorbing-mask sampler: the canvas is what the block would be if it
 * stopped now (committed tokens, and x0 at the masked positions: exactly the polish-0 argmax fill),
 * and the entropy is averaged over the masked positions only (a committed token has no prediction left
 * to be confident about). DiffusionGemma applies its sampling temperature schedule (0.8 -> 0.4) to the
 * logits first; we run greedy, so `temperature` (default 1) divides the logits before the entropy.
 */
import type { RuleDefinition } from "./definition";
import { rowEntropy } from "./logit-stats";
import { parseParams, type ParamSpecs } from "./params";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";
import { rowOffset } from "./rows";

export const STABLE_CONFIDENT_PARAMS = {
  stability: { type: "number", default: 1, min: 0, integer: true, doc: "previous forwards whose argmax canvas must equal this one's (0 = no stability check)" },
  entropy: { type: "number", default: 0.005, min: 0, minExclusive: true, doc: "stop when the mean entropy of the masked positions is < entropy (nats)" },
  temperature: { type: "number", default: 1, min: 0, minExclusive: true, doc: "logits are divided by this before the entropy" },
} as const satisfies ParamSpecs;

export class StableConfidentRule implements StopRule {
  readonly name = "stable-confident";
  readonly polishSteps = 0;
  private start = 0;
  private len = 0;
  /** Ring of the last `stability` canvases, [stability, len]; -1 = never seen. */
  private history = new Int32Array(0);
  private head = 0;
  private scaled = new Float64Array(0);
  /** Mean entropy at the last observed step (NaN when no position was masked). */
  lastEntropy = NaN;

  constructor(private readonly p: { stability: number; entropy: number; temperature: number }) {}

  beginBlock(block: BlockInfo): void {
    this.start = block.start;
    this.len = block.end - block.start;
    this.history = new Int32Array(this.p.stability * this.len).fill(-1);
    this.head = 0;
  }

  observe(view: StepView): StepDecision {
    const canvas = new Int32Array(this.len);
    for (let o = 0; o < this.len; o++) canvas[o] = view.ids[this.start + o];
    view.masked.forEach((pos, i) => (canvas[pos - this.start] = view.x0[i]));
    let stable = true;
    for (let h = 0; h < this.p.stability && stable; h++) {
      for (let o = 0; o < this.len; o++) {
        if (this.history[h * this.len + o] !== canvas[o]) {
          stable = false;
          break;
        }
      }
    }
    if (this.p.stability > 0) {
      this.history.set(canvas, this.head * this.len);
      this.head = (this.head + 1) % this.p.stability;
    }
    const V = view.vocab;
    let sum = 0;
    for (const pos of view.masked) sum += this.entropyAt(view, rowOffset(view, pos, V), V);
    this.lastEntropy = view.masked.length ? sum / view.masked.length : NaN;
    const confident = this.lastEntropy < this.p.entropy;
    return { stop: stable && confident, sims: null, kl: null, counter: null, margin: null };
  }

  private entropyAt(view: StepView, off: number, V: number): number {
    if (this.p.temperature === 1) return rowEntropy(view.logits, off, V);
    if (this.scaled.length < V) this.scaled = new Float64Array(V);
    for (let v = 0; v < V; v++) this.scaled[v] = view.logits[off + v] / this.p.temperature;
    return rowEntropy(this.scaled, 0, V);
  }

  blockThresholds(): null {
    return null;
  }
}

export const stableConfidentRule: RuleDefinition = {
  name: "stable-confident",
  role: "stop",
  summary: "DiffusionGemma's stop: the block's argmax canvas unchanged for `stability` forwards and mean masked entropy < entropy",
  params: STABLE_CONFIDENT_PARAMS,
  create(raw) {
    return new StableConfidentRule(parseParams("stable-confident", STABLE_CONFIDENT_PARAMS, raw));
  },
};
