/**
 * The block-wise denoising loop (bundle contract "Sampler semantics", EDIT Alg. 1 for the stop):
 * per block, per step: one forward, x0/confidence on the block's masked positions, the stop rule
 * observes the step before its commit, then what it commits is unmasked: exactly the rule's set when
 * it returns one (`commitOnly`, the peers as their authors ship them; the schedule's top-k_t, at least
 * one token, when that set is empty), else the scheduled k_t most confident plus the rule's early
 * commits (`commitEarly`, the union variant). A rule may mask again tokens committed earlier in the
 * block (`remask`, WINO). A stop either argmax-fills the block (polish p = 0) or spends p polish
 * forwards; EOS in a finished block skips the remaining blocks.
 */
import type { BlockTrace, StepEvent, StepTrace } from "../../../protocol/trace";
import type { ScheduleName } from "../bundle/bundle-json";
import { CancelledError } from "../errors";
import type { DllmModel, ForwardResult } from "../model/types";
import type { StepDecision, StepView, StopRule } from "../stop/rule";
import { SeededRandom, gumbelArgmax } from "./gumbel";
import { transferCounts } from "./schedule";
import { argmaxRow, softmaxProb, topKByConfidence } from "./select";
import { alignedBlocks, alignedGenEnd, decodeWindow, eosSettled } from "./sub-blocks";

export interface DenoiseOptions {
  promptIds: readonly number[];
  /** Infill: tokens after the generated region (bundle.json infill); the masks go between prompt and suffix. */
  suffixIds?: readonly number[];
  genLength: number;
  blockLength: number;
  steps: number;
  schedule: ScheduleName;
  maskId: number;
  eosId: number;
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
  /**
   * Block-causal bundles (SDAR, Fast-dLLM v2): the model's block size. Blocks then sit on its boundaries
   * (the first completes the prompt's partial block) and the generation ends on one (sub-blocks.ts).
   */
  modelBlockSize?: number;
  /** Fast-dLLM v2: decode each block in sub-blocks of this length, one commit + the rule's per step. */
  subBlockLength?: number;
  /** The model's logit shift (Fast-dLLM v2): a block's masked first position is decoded alone first. */
  shift?: boolean;
}

export interface DenoiseResult {
  /** The whole final sequence (prompt + generation + suffix). */
  ids: Int32Array;
  /** The generated part (genLength ids, eos-filled after an EOS block). */
  outputIds: number[];
  blocks: BlockTrace[];
  forwardMs: number;
  ruleMs: number;
}

interface StepChoice {
  visible: number[];
  masked: number[];
  x0: Int32Array;
  confidence: Float64Array;
}

export async function denoise(model: DllmModel, rule: StopRule, o: DenoiseOptions): Promise<DenoiseResult> {
  const promptLen = o.promptIds.length;
  const bs = o.modelBlockSize;
  const genEnd = bs ? alignedGenEnd(promptLen, o.genLength, bs) : promptLen + o.genLength;
  const spans: [number, number][] = bs
    ? alignedBlocks(promptLen, genEnd, bs)
    : Array.from({ length: o.genLength / o.blockLength }, (_, b) => [promptLen + b * o.blockLength, promptLen + (b + 1) * o.blockLength]);
  const sub = o.subBlockLength;
  const seqLen = genEnd + (o.suffixIds?.length ?? 0);
  const ids = new Int32Array(seqLen);
  ids.set(o.promptIds);
  ids.fill(o.maskId, promptLen, genEnd);
  if (o.suffixIds) ids.set(o.suffixIds, genEnd);
  const numBlocks = o.genLength / o.blockLength;
  const blockBudget = o.steps / numBlocks;
  // Counts from the full block length even for a partial first block, as SDAR's get_num_transfer_tokens.
  const counts = transferCounts(o.schedule, o.blockLength, blockBudget);
  const temperature = o.temperature ?? 0;
  const rng = new SeededRandom(o.seed ?? 0);
  const blocks: BlockTrace[] = [];
  let forwardMsTotal = 0;
  let ruleMsTotal = 0;

  const checkCancelled = () => {
    if (o.signal?.aborted) throw new CancelledError();
  };
  const timedForward = async (start: number, end: number): Promise<{ res: ForwardResult; ms: number }> => {
    checkCancelled();
    const t0 = performance.now();
    const res = await model.forward(ids, { want: { start, end } });
    const ms = performance.now() - t0;
    forwardMsTotal += ms;
    checkCancelled();
    return { res, ms };
  };
  /** x0/confidence on the masked positions of [from, to) (default: the block); visible = the block's. */
  const choose = (res: ForwardResult, start: number, end: number, from = start, to = end): StepChoice => {
    const visible: number[] = [];
    const masked: number[] = [];
    for (let p = start; p < end; p++) if (ids[p] !== o.maskId) visible.push(p);
    for (let p = from; p < to; p++) if (ids[p] === o.maskId) masked.push(p);
    const x0 = new Int32Array(masked.length);
    const confidence = new Float64Array(masked.length);
    masked.forEach((p, i) => {
      const off = (p - res.rowStart) * res.vocab;
      x0[i] = temperature > 0 ? gumbelArgmax(res.logits, off, res.vocab, temperature, rng) : argmaxRow(res.logits, off, res.vocab);
      confidence[i] = softmaxProb(res.logits, off, res.vocab, x0[i]);
    });
    return { visible, masked, x0, confidence };
  };
  /**
   * Unmasks the given indices into choice.masked; returns the committed positions ascending with their
   * ids and their top-1 probabilities at this forward (the inline gate's confidence signal).
   */
  const commit = (c: StepChoice, which: Iterable<number>): { positions: number[]; tokens: number[]; probs: number[] } => {
    const sorted = [...new Set(which)].sort((a, b) => c.masked[a] - c.masked[b]);
    for (const i of sorted) ids[c.masked[i]] = c.x0[i];
    return {
      positions: sorted.map((i) => c.masked[i]),
      tokens: sorted.map((i) => c.x0[i]),
      probs: sorted.map((i) => c.confidence[i]),
    };
  };

  let eosSeen = false;
  for (let b = 0; b < spans.length; b++) {
    const [start, end] = spans[b];
    // Sub-block decoding has no fixed budget (generate() loops until the block is complete): one commit at
    // least per step, so the block's masks bound its forwards.
    const budget = sub ? countMasked(ids, start, end, o.maskId) : blockBudget;
    if (eosSeen) {
      ids.fill(o.eosId, start, end);
      blocks.push(emptyBlock(b, start, end, budget));
      continue;
    }
    let maskedInGen = 0;
    for (let p = promptLen; p < genEnd; p++) if (ids[p] === o.maskId) maskedInGen++;
    rule.beginBlock({ index: b, start, end, budget, maskedFraction: maskedInGen / (genEnd - promptLen) });
    const thresholds = rule.blockThresholds();
    const block: BlockTrace = {
      index: b,
      start,
      end,
      budget,
      stepsUsed: 0,
      stopStep: null,
      endedBy: "budget",
      delta: thresholds?.delta ?? null,
      omega: thresholds?.omega ?? null,
      certificate: null,
      steps: [],
    };
    const emit = (step: StepTrace) => {
      block.steps.push(step);
      block.stepsUsed++;
      o.onStep?.({ block: b, blockBudget: budget, delta: block.delta, step });
    };

    const blockStart = bs ? Math.floor(start / bs) * bs : start;
    /** Positions the sampler committed in this block (the only ones a rule may mask again). */
    const committedHere = new Set<number>();
    const wantEnd = rule.wantsRowsToEnd ? genEnd : end;
    for (let t = 1; t <= budget; t++) {
      const win = sub ? decodeWindow(ids, o.maskId, start, end, blockStart, sub, o.shift ?? false) : null;
      const { res, ms: forwardMs } = await timedForward(start, wantEnd);
      const c = win ? choose(res, start, end, win[0], win[1]) : choose(res, start, end);
      if (c.masked.length === 0) break; // defensive: the loop below ends blocks once all are committed
      const view: StepView = {
        step: t,
        ids,
        maskId: o.maskId,
        seqLen,
        vocab: res.vocab,
        rowStart: res.rowStart,
        logits: res.logits,
        activations: res.activations,
        visible: c.visible,
        masked: c.masked,
        x0: c.x0,
        confidence: c.confidence,
      };
      const r0 = performance.now();
      const decision: StepDecision = rule.observe(view);
      const ruleMs = performance.now() - r0;
      ruleMsTotal += ruleMs;

      const polish = rule.polishSteps;
      const stopNow = decision.stop && t + polish < budget;
      const last = t === budget;
      const maskedIndex = new Map(c.masked.map((p, i) => [p, i]));
      const toIndices = (ps: readonly number[] | undefined): number[] =>
        (ps ?? []).map((p) => maskedIndex.get(p)).filter((i): i is number => i !== undefined);
      const only = last ? [] : toIndices(decision.commitOnly);
      // The last step commits whatever is left, so a block never ends with masks (the counts sum to L anyway).
      // Sub-blocks: the most confident one every step (generate(): unmask_idx[argmax] = True).
      // A rule with a set of its own that is empty falls back to the schedule's top-k_t, at least one token.
      let k = sub ? 1 : last ? c.masked.length : Math.min(counts[t - 1], c.masked.length);
      if (decision.commitOnly !== undefined) k = Math.max(k, 1);
      const scheduled = only.length > 0 ? [] : topKByConfidence(c.masked, c.confidence, k);
      const scheduledSet = new Set(scheduled);
      let chosen: number[];
      if (stopNow && polish === 0 && sub) {
        // argmax fill of every still-masked position of the block (not only the sub-block)
        const rest = choose(res, start, end);
        for (let i = 0; i < rest.masked.length; i++) ids[rest.masked[i]] = rest.x0[i];
        chosen = c.masked.map((_, i) => i);
      } else if (stopNow && polish === 0) {
        chosen = c.masked.map((_, i) => i); // argmax fill of every still-masked position
      } else {
        chosen = only.length > 0 ? [...new Set(only)] : [...scheduled];
        const inChosen = new Set(chosen);
        for (const i of toIndices(decision.commitEarly)) if (!inChosen.has(i)) chosen.push(i);
      }
      const done = commit(c, chosen);
      for (const p of done.positions) committedHere.add(p);
      // WINO's narrow-out: mask again tokens this block committed at an earlier step (never on the last step or a stop).
      const remasked: number[] = [];
      if (!last && !stopNow) {
        const now = new Set(done.positions);
        for (const p of decision.remask ?? []) {
          if (committedHere.has(p) && !now.has(p) && ids[p] !== o.maskId) remasked.push(p);
        }
        remasked.sort((a, b) => a - b);
        for (const p of remasked) {
          ids[p] = o.maskId;
          committedHere.delete(p);
        }
      }
      emit({
        step: t,
        visible: c.visible,
        sims: decision.sims ?? null,
        kl: decision.kl ?? null,
        counter: decision.counter ?? null,
        margin: decision.margin ?? null,
        committed: done.positions,
        committedIds: done.tokens,
        committedProbs: done.probs,
        early: done.positions.filter((p) => !scheduledSet.has(c.masked.indexOf(p))),
        ...(remasked.length > 0 ? { remasked } : {}),
        polish: false,
        forwardMs,
        ruleMs,
        ...cacheFields(res),
      });

      if (stopNow) {
        block.stopStep = t;
        block.endedBy = "stop-rule";
        block.certificate = rule.certificate?.() ?? null;
        for (let i = 0; i < polish && countMasked(ids, start, end, o.maskId) > 0; i++) {
          const { res: pres, ms } = await timedForward(start, end);
          const pc = choose(pres, start, end);
          const kp = Math.ceil(pc.masked.length / (polish - i));
          const pdone = commit(pc, topKByConfidence(pc.masked, pc.confidence, kp));
          emit({
            step: t + i + 1,
            visible: pc.visible,
            sims: null,
            kl: null,
            counter: null,
            margin: null,
            committed: pdone.positions,
            committedIds: pdone.tokens,
            committedProbs: pdone.probs,
            early: pdone.positions,
            polish: true,
            forwardMs: ms,
            ruleMs: 0,
            ...cacheFields(pres),
          });
        }
        break;
      }
      if (countMasked(ids, start, end, o.maskId) === 0) {
        block.endedBy = t === budget && !sub ? "budget" : "all-committed";
        break;
      }
      if (sub && eosSettled(ids, promptLen, genEnd, o.eosId, o.maskId)) {
        // Fast-dLLM v2 stops here; the text ends at the eos, so the block's other masks become eos.
        for (let p = start; p < end; p++) if (ids[p] === o.maskId) ids[p] = o.eosId;
        block.endedBy = "all-committed";
        break;
      }
    }
    blocks.push(block);
    for (let p = start; p < end; p++) if (ids[p] === o.eosId) eosSeen = true;
  }

  return {
    ids,
    outputIds: Array.from(ids.subarray(promptLen, genEnd)),   // block-causal: up to the block boundary
    blocks,
    forwardMs: forwardMsTotal,
    ruleMs: ruleMsTotal,
  };
}

/** The trace's per-forward cache fields (token count, refresh), when the model reports them. */
function cacheFields(res: ForwardResult): Pick<StepTrace, "forwardTokens" | "refreshed"> {
  return res.cache ? { forwardTokens: res.cache.tokens, refreshed: res.cache.refreshed } : {};
}

function countMasked(ids: Int32Array, start: number, end: number, maskId: number): number {
  let n = 0;
  for (let p = start; p < end; p++) if (ids[p] === maskId) n++;
  return n;
}

function emptyBlock(index: number, start: number, end: number, budget: number): BlockTrace {
  return {
    index,
    start,
    end,
    budget,
    stepsUsed: 0,
    stopStep: null,
    endedBy: "eos-skip",
    delta: null,
    omega: null,
    certificate: null,
    steps: [],
  };
}
