/**
 * LESS's Dream sampler (authors' repository LESS-Is-More, `dream_sampling/less.py`, function
 * `diffusion_generate_less`; line numbers below are that file's), the `variant=dream` of the `less` rule.
 * Per forward (step i of T, prog = (i + 1) / T, L155):
 *   - every masked generation position gets p = softmax of its logits with the mask id banned (L170-177),
 *     its top-8 summary, winner = top-1 id, conf = top-1 prob (L178-182); persistence (all of the previous
 *     `persist` winners equal this one, L184-188) and coarse top-8 JS drift against the previous forward
 *     (1 without one, L191-195) as the LLaDA form; the histories of ALL masked positions are updated every
 *     forward (L232-238) and never reset: the sampler has no blocks;
 *   - accept = persist & conf >= confThreshold & drift <= jsThreshold (L203-208), and when the winner is
 *     eos also conf >= max(eosConfFloor, eosConfThreshold - eosConfAnneal * prog) and
 *     drift <= jsThreshold * eosJsMult (L197-212: 0.9, 0.1, 0.55, 0.5);
 *   - frontier-first commit (L253-311), f = the first masked position: f accepted -> commit the run of
 *     accepted masked positions from f up to the first masked one not accepted (visible ones skipped),
 *     wait = 0; f not accepted and wait < patience (2, L62) and some accepted position in (f, f + window]
 *     (16, L63) -> commit only the most confident of those (ties: the lowest position), wait += 1;
 *     otherwise commit f itself, wait = 0;
 *   - eos early stop after the commit (L329-347): masks remain, an eos exists and no mask lies before the
 *     first eos -> end the generation; what is still masked is filled with the argmax of one more forward
 *     (L355-361).
 * Mapped onto the StopRule interface (nearest faithful where it cannot be exact):
 *   - the commit is `commitOnly` (never empty: the frontier is always committable); the eos stop is `stop`
 *     with polishSteps = 1, so the sampler commits the set, then one forward fills the block's masks by
 *     argmax (L358-361), and EOS in the finished block skips the remaining blocks (their text follows the eos);
 *   - the sampler works block by block: the run, the window and the alternative stop at the block (or
 *     sub-block window) end, prog is the step within the block over the block's budget; with one block the
 *     size of the generation (Dream's setting) both are the authors'. The frontier wait and the histories
 *     live across blocks (reset when block 0 begins: a new generation); the rule asks for every row to the
 *     end of the generation (wantsRowsToEnd) to update them;
 *   - the eos scan starts at the generation (the authors scan the whole sequence, prompt included: a prompt
 *     holding eos would end their generation after one step);
 *   - the committed token is the sampler's x0 (the argmax, or the Gumbel sample when temperature > 0); the
 *     gates use the winner with the mask id banned; they differ only when the model's argmax is the mask id
 *     (or, at temperature > 0, where the authors commit the forced frontier's argmax rather than a sample);
 *   - min_new_tokens_before_eos (default 0) is not implemented; probabilities are float64 (theirs float32).
 * In a composition ("stop-rule+less") the stop rule owns the stop, so the eos early stop acts only when
 * `less` runs alone.
 */
import { StopRuleContextError, StopRuleParamError } from "./errors";
import { coarseTopKJs, topK } from "./less-drift";
import type { BlockInfo, StepDecision, StepView, StopRule } from "./rule";

export interface LessDreamParams {
  confThreshold: number;
  persist: number;
  topK: number;
  jsThreshold: number;
  frontierPatience: number;
  frontierWindow: number;
  eosConfThreshold: number;
  eosConfAnneal: number;
  eosConfFloor: number;
  eosJsMult: number;
  eosEarlyStop: boolean;
}

/** softmax of logits[off, off + V) with entry `ban` at -inf (less.py L171: `mask_logits[:, ban_id] = finfo.min`). */
function softmaxBanned(logits: Float32Array, off: number, V: number, ban: number, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (v !== ban && logits[off + v] > max) max = logits[off + v];
  let sum = 0;
  for (let v = 0; v < V; v++) {
    const e = v === ban ? 0 : Math.exp(logits[off + v] - max);
    out[v] = e;
    sum += e;
  }
  for (let v = 0; v < V; v++) out[v] /= sum;
}

/** The eos gate's confidence threshold at progress `prog` (less.py L200). */
export function eosConfidenceThreshold(p: Pick<LessDreamParams, "eosConfThreshold" | "eosConfAnneal" | "eosConfFloor">, prog: number): number {
  return Math.max(p.eosConfFloor, p.eosConfThreshold - p.eosConfAnneal * prog);
}

export class LessDreamRule implements StopRule {
  readonly name = "less";
  /** The authors fill what is left after the eos stop with one more forward (less.py L355-361). */
  readonly polishSteps = 1;
  readonly wantsRowsToEnd = true;
  private readonly K: number;
  /** First generation position (block 0's start) and the number of positions kept (to the sequence end). */
  private base = 0;
  private n = -1;
  private budget = 1;
  /** frontier_wait (less.py L140): alternatives committed in a row while the frontier waits. */
  private wait = 0;
  /** Per position from `base`: previous forward's top-K summary, whether there is one, last winner, its run length. */
  private prevIds = new Int32Array(0);
  private prevProbs = new Float64Array(0);
  private hasPrev = new Uint8Array(0);
  private prevTop = new Int32Array(0);
  private same = new Int32Array(0);
  private row = new Float64Array(0);
  private readonly ids: Int32Array;
  private readonly probs: Float64Array;

  constructor(
    private readonly p: LessDreamParams,
    private readonly eosId: number,
  ) {
    this.K = p.topK;
    this.ids = new Int32Array(this.K);
    this.probs = new Float64Array(this.K);
  }

  beginBlock(block: BlockInfo): void {
    this.budget = block.budget;
    if (block.index === 0) {
      // A new generation: the authors allocate the histories and the wait once per call (L129-140).
      this.base = block.start;
      this.n = -1;
      this.wait = 0;
    }
  }

  private ensure(seqLen: number): void {
    const n = seqLen - this.base;
    if (this.n === n) return;
    const K = this.K;
    this.n = n;
    this.prevIds = new Int32Array(n * K);
    this.prevProbs = new Float64Array(n * K);
    this.hasPrev = new Uint8Array(n);
    this.prevTop = new Int32Array(n);
    this.same = new Int32Array(n);
  }

  observe(view: StepView): StepDecision {
    const V = view.vocab;
    const K = this.K;
    const p = this.p;
    this.ensure(view.seqLen);
    if (this.row.length !== V) this.row = new Float64Array(V);
    const prog = view.step / this.budget;
    const eosConf = eosConfidenceThreshold(p, prog);
    const eosJs = p.jsThreshold * p.eosJsMult;
    const blockIndex = new Map(view.masked.map((pos, i) => [pos, i]));
    const accepted = new Uint8Array(view.masked.length);
    const conf = new Float64Array(view.masked.length);
    const rows = view.logits.length / V;
    for (let r = 0; r < rows; r++) {
      const pos = view.rowStart + r;
      const s = pos - this.base;
      if (s < 0 || s >= this.n || view.ids[pos] !== view.maskId) continue; // L165: the masked positions only
      softmaxBanned(view.logits, r * V, V, view.maskId, this.row);
      topK(this.row, V, this.ids, this.probs);
      const winner = this.ids[0];
      const c = this.probs[0];
      const had = this.hasPrev[s] === 1;
      // L184-188: all `persist` previous winners equal this one <=> a run of >= persist equal predecessors.
      this.same[s] = had && this.prevTop[s] === winner ? this.same[s] + 1 : 0;
      const drift = had
        ? coarseTopKJs(this.ids, this.probs, this.prevIds.subarray(s * K, s * K + K), this.prevProbs.subarray(s * K, s * K + K))
        : 1; // L195
      const i = blockIndex.get(pos);
      if (i !== undefined) {
        conf[i] = c;
        let ok = this.same[s] >= p.persist && c >= p.confThreshold && drift <= p.jsThreshold; // L203-208
        if (winner === this.eosId) ok = ok && c >= eosConf && drift <= eosJs; // L209-212
        accepted[i] = ok ? 1 : 0;
      }
      // L232-238: the history moves on for every masked position.
      this.prevTop[s] = winner;
      this.prevIds.set(this.ids, s * K);
      this.prevProbs.set(this.probs, s * K);
      this.hasPrev[s] = 1;
    }
    const commit = this.frontierCommit(view.masked, accepted, conf);
    const stop = p.eosEarlyStop && this.eosSettledAfter(view, commit, blockIndex);
    return { stop, commitOnly: commit, sims: null, kl: null, counter: null, margin: null };
  }

  /** Frontier-first prefix commit (less.py L253-311) over the block's masked positions (ascending). */
  private frontierCommit(masked: readonly number[], accepted: Uint8Array, conf: Float64Array): number[] {
    if (masked.length === 0) return [];
    const f = masked[0];
    if (!accepted[0]) {
      if (this.wait < this.p.frontierPatience) {
        let best = -1;
        for (let i = 1; i < masked.length && masked[i] <= f + this.p.frontierWindow; i++) {
          if (accepted[i] && (best < 0 || conf[i] > conf[best])) best = i; // argmax: the first maximum
        }
        if (best >= 0) {
          this.wait++;
          return [masked[best]];
        }
      }
      this.wait = 0;
      return [f];
    }
    this.wait = 0;
    let n = 0;
    while (n < masked.length && accepted[n]) n++;
    return masked.slice(0, n);
  }

  /**
   * less.py L329-347 on the sequence as it will be after this commit: some mask remains, an eos exists
   * and no mask lies before the first eos.
   */
  private eosSettledAfter(view: StepView, commit: readonly number[], maskedIndex: ReadonlyMap<number, number>): boolean {
    const committed = new Map<number, number>();
    for (const pos of commit) committed.set(pos, view.x0[maskedIndex.get(pos)!]);
    let maskBeforeEos = false;
    let firstEos = -1;
    let anyMask = false;
    for (let pos = this.base; pos < view.seqLen; pos++) {
      const tok = committed.get(pos) ?? view.ids[pos];
      if (tok === view.maskId) {
        anyMask = true;
        if (firstEos < 0) maskBeforeEos = true;
      } else if (tok === this.eosId && firstEos < 0) firstEos = pos;
    }
    return anyMask && firstEos >= 0 && !maskBeforeEos;
  }

  blockThresholds(): null {
    return null;
  }
}

/** Builds the Dream form, checking what it needs beyond the shared LESS parameters. */
export function createLessDream(p: LessDreamParams & { union: boolean }, eosId: number | undefined): LessDreamRule {
  if (p.union) {
    throw new StopRuleParamError("less", "union", "false with variant=dream (its frontier-first commit is the whole commit)", "true");
  }
  if (eosId === undefined) {
    throw new StopRuleContextError("less", "eosId (bundle.json ids.eos)", "the end-of-text id: variant=dream gates and stops on eos");
  }
  return new LessDreamRule(p, eosId);
}
