/**
 * Across requests: recently computed prompt K/V, keyed by the prompt's token ids, LRU, bounded in bytes
 * (llama.cpp's prompt cache is the anchor). Typing in a file grows the prompt by a few tokens, so the
 * longest stored common prefix is reused and only the rest is computed.
 *
 * On a bidirectional model the stored K/V of a prefix were computed with a different continuation; reusing
 * them is the same approximation as Fast-dLLM's prefix cache within a request (refreshed only at block
 * starts), now across keystrokes.
 *
 * Written by hand: LRU-with-byte-bound libraries (lru-cache's maxSize) exist, but the lookup here is
 * "longest common token prefix over all entries", which they do not offer; the daemon's completion cache
 * (daemon/cache.ts) made the same choice.
 */
import { kvBytes } from "./kv-span";
import type { KvSpan } from "./types";

export interface PrefixHit {
  /** Leading tokens whose K/V come from the cache (<= the stored and the asked length). */
  length: number;
  /** The stored span; its first `length` rows are the hit. */
  kv: KvSpan;
}

export interface PrefixCacheStats {
  lookups: number;
  hits: number;
  /** Tokens served from the cache over all hits. */
  reusedTokens: number;
  entries: number;
  bytes: number;
  evictions: number;
}

export class PrefixKvCache {
  private readonly entries = new Map<string, { tokens: Int32Array; kv: KvSpan; bytes: number }>();
  private bytesNow = 0;
  private readonly counters = { lookups: 0, hits: 0, reusedTokens: 0, evictions: 0 };

  /** @param maxBytes the bound; an entry larger than it is not stored. @param minTokens shortest reusable prefix. */
  constructor(readonly maxBytes: number, private readonly minTokens = 1) {
    if (!(maxBytes >= 0)) throw new RangeError(`PrefixKvCache: maxBytes must be >= 0, got ${maxBytes}`);
  }

  /** The stored entry sharing the longest token prefix with `tokens` (marked most recently used). */
  lookup(tokens: ArrayLike<number>): PrefixHit | null {
    this.counters.lookups++;
    let best: { key: string; length: number } | null = null;
    for (const [key, e] of this.entries) {
      const n = Math.min(e.tokens.length, tokens.length);
      let i = 0;
      while (i < n && e.tokens[i] === tokens[i]) i++;
      if (i >= this.minTokens && (!best || i > best.length)) best = { key, length: i };
    }
    if (!best) return null;
    const e = this.entries.get(best.key)!;
    this.entries.delete(best.key);
    this.entries.set(best.key, e);
    this.counters.hits++;
    this.counters.reusedTokens += best.length;
    return { length: best.length, kv: e.kv };
  }

  /** Stores the K/V of `tokens` (kv.length === tokens.length), evicting least recently used entries to fit. */
  store(tokens: ArrayLike<number>, kv: KvSpan): void {
    if (kv.length !== tokens.length) throw new RangeError(`PrefixKvCache.store: ${tokens.length} tokens but K/V of ${kv.length}`);
    const bytes = kvBytes(kv);
    const key = Array.prototype.join.call(tokens, ",");
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytesNow -= old.bytes;
    }
    if (bytes > this.maxBytes) return;
    this.entries.set(key, { tokens: Int32Array.from(tokens), kv, bytes });
    this.bytesNow += bytes;
    for (const [k, e] of this.entries) {
      if (this.bytesNow <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytesNow -= e.bytes;
      this.counters.evictions++;
    }
  }

  stats(): PrefixCacheStats {
    return { ...this.counters, entries: this.entries.size, bytes: this.bytesNow };
  }

  clear(): void {
    this.entries.clear();
    this.bytesNow = 0;
  }
}
