/**
 * The block-wise K/V cache behind the model seam (Fast-dLLM, Wu et al. 2025, §3.2-3.3): the sampler keeps
 * calling forward(ids, { want: current block }) and this wrapper decides what to compute.
 *
 * - `none`: every forward computes the whole sequence (exact; today's behaviour).
 * - `prefix`: the K/V of every position before the block (prompt + finished blocks) are cached; a forward
 *   computes the block and the masked suffix after it against them.
 * - `dual`: the masked suffix's K/V are cached too; a forward computes only the block.
 *
 * Refresh: a forward recomputes everything (and re-captures the cached spans) when the cached spans or their
 * tokens changed (a new block start: the previous block was just committed, which is Fast-dLLM's refresh
 * point) or when `refreshEvery` forwards have used the cache. With refreshEvery = 1 every forward is a full
 * forward, so `prefix` and `dual` equal `none` token for token.
 *
 * Block-causal models (SDAR, Fast-dLLM v2; `blockSize` set): a position reads only its own and earlier
 * blocks, so the K/V of a finished block never change. `prefix` and `dual` then keep the K/V of every
 * finished block, computed once and never refreshed, extend them as blocks finish, and compute per forward
 * only the current block (plus the row before it when the shift needs it; positions after the block are
 * invisible to it and are not computed). The cross-request prompt cache stores and reuses whole blocks only.
 *
 * Cancellation: the cache state is replaced only after a forward has returned, so an abort during a
 * (pre)fill leaves the previous, complete state (or none).
 */
import { ModelError } from "../errors";
import { concatKv, sliceKv } from "./kv-span";
import type { PrefixKvCache } from "./prefix-cache";
import type { CacheGraphModel, DllmModel, ForwardRequest, ForwardResult, KvSpan } from "./types";

export const CACHE_MODES = ["none", "prefix", "dual"] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

export interface CachePolicy {
  mode: CacheMode;
  /** Refresh after this many forwards used one capture (1 = every forward); null = only when the cached tokens change. */
  refreshEvery: number | null;
  /** Block-causal bundles: the model's block size (bundle.json model.attention.block_size); exact, no refresh. */
  blockSize?: number;
  /** With blockSize and a shift: the mask id (a masked block start needs the row before it). */
  maskId?: number;
}

type Span = readonly [number, number];

interface CacheState {
  spans: Span[];
  /** The token ids of the cached spans, in span order. */
  tokens: Int32Array;
  kv: KvSpan;
  /** Forwards served by this capture, the refresh included. */
  uses: number;
}

export class KvCacheModel implements DllmModel {
  private state: CacheState | null = null;
  private forwards = 0;

  constructor(
    private readonly inner: CacheGraphModel,
    readonly policy: CachePolicy,
    /** Cross-request prompt K/V (prefix-cache.ts); consulted on the first forward of a sequence. */
    private readonly prompts: PrefixKvCache | null = null,
  ) {
    if (policy.refreshEvery !== null && !(Number.isInteger(policy.refreshEvery) && policy.refreshEvery >= 1)) {
      throw new ModelError(`cache refreshEvery must be an integer >= 1 or null, got ${policy.refreshEvery}`);
    }
  }

  get provider(): string {
    return this.inner.provider;
  }

  async forward(ids: Int32Array, request?: ForwardRequest): Promise<ForwardResult> {
    const seq = ids.length;
    const start = request?.want?.start ?? 0;
    const end = request?.want?.end ?? seq;
    const first = this.forwards++ === 0;
    if (this.policy.mode === "none") {
      const res = await this.inner.forward(ids, request);
      return { ...res, cache: { tokens: seq, refreshed: false } };
    }
    if (this.policy.blockSize) return this.forwardBlockCausal(ids, start, end, first, this.policy.blockSize);
    // With a logit shift the row before the block must be computed in the query (its hidden state predicts row start).
    const q0 = Math.max(0, start - (this.inner.shift ? 1 : 0));
    const spans: Span[] = [[0, q0]];
    if (this.policy.mode === "dual" && end < seq) spans.push([end, seq]);
    const queryEnd = this.policy.mode === "dual" ? end : seq;
    if (this.usable(ids, spans)) {
      const state = this.state!;
      const res = await this.inner.forwardCache({
        ids: ids.slice(q0, queryEnd),
        positions: range(q0, queryEnd),
        past: state.kv,
        want: { start: start - q0, end: end - q0 },
      });
      state.uses++;
      return { rowStart: start, logits: res.logits, vocab: res.vocab, activations: res.activations, cache: { tokens: queryEnd - q0, refreshed: false } };
    }
    return this.refresh(ids, start, end, spans, first);
  }

  private usable(ids: Int32Array, spans: Span[]): boolean {
    const s = this.state;
    if (!s || s.spans.length !== spans.length) return false;
    if (this.policy.refreshEvery !== null && s.uses >= this.policy.refreshEvery) return false;
    let k = 0;
    for (let i = 0; i < spans.length; i++) {
      const [a, b] = spans[i];
      if (s.spans[i][0] !== a || s.spans[i][1] !== b) return false;
      for (let p = a; p < b; p++) if (s.tokens[k++] !== ids[p]) return false;
    }
    return true;
  }

  /** A full forward (minus a reused prompt prefix on a sequence's first forward) that re-captures the spans. */
  private async refresh(ids: Int32Array, start: number, end: number, spans: Span[], first: boolean): Promise<ForwardResult> {
    const g = this.inner.kv;
    const promptLen = spans[0][1];
    let from = 0;
    let past: KvSpan | null = null;
    if (first && this.prompts && promptLen > 0) {
      const hit = this.prompts.lookup(ids.subarray(0, promptLen));
      if (hit) {
        from = Math.min(hit.length, promptLen);
        past = sliceKv(hit.kv, g, [[0, from]]);
      }
    }
    const res = await this.inner.forwardCache({
      ids: ids.slice(from),
      positions: range(from, ids.length),
      past,
      want: { start: start - from, end: end - from },
    });
    const whole = past ? concatKv(past, res.present, g) : res.present; // rows = positions [0, seq)
    const kv = sliceKv(whole, g, spans);
    const tokens = new Int32Array(kv.length);
    let k = 0;
    for (const [a, b] of spans) for (let p = a; p < b; p++) tokens[k++] = ids[p];
    this.state = { spans, tokens, kv, uses: 1 };
    if (first && this.prompts && promptLen > 0 && from < promptLen) {
      this.prompts.store(ids.slice(0, promptLen), sliceKv(whole, g, [[0, promptLen]]));
    }
    return { rowStart: start, logits: res.logits, vocab: res.vocab, activations: res.activations, cache: { tokens: ids.length - from, refreshed: true } };
  }

  /**
   * Block-causal: cached = whole finished blocks [0, n); query = [n, end). The query starts at the block
   * holding its first needed row: `start`, or `start - 1` when the shift must predict a masked `start`
   * (Fast-dLLM v2's next-token row). After the forward, the blocks before `start`'s are final: their K/V
   * (computed with their whole block in view) extend the cache.
   */
  private async forwardBlockCausal(ids: Int32Array, start: number, end: number, first: boolean, bs: number): Promise<ForwardResult> {
    const g = this.inner.kv;
    // Row `start` of an unmasked position is not read by the sampler, so the shifted row is computed only
    // when it predicts a mask (as generate() computes the next token only from the finishing forward).
    const firstRow = this.inner.shift && start > 0 && ids[start] === this.policy.maskId ? start - 1 : start;
    const queryStart = Math.floor(firstRow / bs) * bs;
    const finalEnd = Math.floor(start / bs) * bs;
    let n = 0;
    let past: KvSpan | null = null;
    const s = this.state;
    if (s) {
      const usable = Math.min(s.kv.length, queryStart);
      while (n < usable && s.tokens[n] === ids[n]) n++;
      n = Math.floor(n / bs) * bs;
      if (n > 0) past = n === s.kv.length ? s.kv : sliceKv(s.kv, g, [[0, n]]);
    } else if (first && this.prompts && queryStart > 0) {
      const hit = this.prompts.lookup(ids.subarray(0, queryStart));
      if (hit) {
        // Only whole blocks: a block cut in the middle was computed with other tokens after the cut.
        n = Math.floor(Math.min(hit.length, queryStart) / bs) * bs;
        if (n > 0) past = sliceKv(hit.kv, g, [[0, n]]);
      }
    }
    const res = await this.inner.forwardCache({
      ids: ids.slice(n, end),
      positions: range(n, end),
      past,
      want: { start: start - n, end: end - n },
    });
    if (finalEnd > n) {
      const kv = concatKv(past ?? sliceKv(res.present, g, [[0, 0]]), sliceKv(res.present, g, [[0, finalEnd - n]]), g);
      this.state = { spans: [[0, finalEnd]], tokens: ids.slice(0, finalEnd), kv, uses: 1 };
      if (first && this.prompts) this.prompts.store(ids.slice(0, finalEnd), kv);
    } else if (!s && past) {
      this.state = { spans: [[0, n]], tokens: ids.slice(0, n), kv: past, uses: 1 };
    }
    return { rowStart: start, logits: res.logits, vocab: res.vocab, activations: res.activations, cache: { tokens: end - n, refreshed: n === 0 } };
  }

  async dispose(): Promise<void> {
    // The inner model belongs to the engine; this wrapper lives for one request.
    this.state = null;
  }
}

function range(a: number, b: number): Int32Array {
  const out = new Int32Array(b - a);
  for (let i = 0; i < out.length; i++) out[i] = a + i;
  return out;
}
