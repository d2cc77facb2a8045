/**
 * LRU cache of inline completions. Serves a repeated request (exact hit) and a typed-along request:
 * the user typed characters that are the start of a cached completion, so the rest of it is still
 * the model's answer for the new cursor position and no forward is needed.
 */

export interface CompletionKey {
  /** The prefix window: the last `prefixWindow` characters before the cursor. */
  prefix: string;
  /** The suffix window after the cursor ("" when the task's template does not use a suffix). */
  suffix: string;
  /** Everything else that changes the answer (bundle, task, rule, params, lengths), serialized. */
  settings: string;
}

export interface CacheHit {
  kind: "exact" | "typed-along";
  /** The completion to insert at the (new) cursor. */
  text: string;
  /** Why the model's answer was hidden ("" cached) when it was: the gate's "low confidence (...)". */
  hiddenReason?: string;
}

interface Entry extends CompletionKey {
  text: string;
  hiddenReason?: string;
}

export class CompletionCache {
  /** Map iteration order is insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();

  /** Approximate bytes held (UTF-16: two per character of the id and the entry's strings). */
  private bytesNow = 0;

  constructor(
    private readonly capacity: number,
    /** The prefix window size used to build keys: a typed-along prefix slides by the typed characters. */
    private readonly prefixWindow: number,
    /** Bound in bytes besides the entry count: a long completion or settings key cannot grow it unseen. */
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`cache capacity must be >= 1, got ${capacity}`);
    if (!(maxBytes >= 1)) throw new RangeError(`cache maxBytes must be >= 1, got ${maxBytes}`);
    if (!(prefixWindow >= 1)) throw new RangeError(`prefix window must be >= 1, got ${prefixWindow}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: CompletionKey): CacheHit | null {
    const id = entryId(key);
    const exact = this.entries.get(id);
    if (exact) {
      this.touch(id, exact);
      return { kind: "exact", text: exact.text, ...(exact.hiddenReason ? { hiddenReason: exact.hiddenReason } : {}) };
    }
    // Most recently used first: the latest completion the user is typing along is the likely match.
    for (const [eid, e] of [...this.entries].reverse()) {
      if (e.settings !== key.settings || e.suffix !== key.suffix) continue;
      const typed = this.typedAlong(e, key.prefix);
      if (typed > 0) {
        this.touch(eid, e);
        return { kind: "typed-along", text: e.text.slice(typed) };
      }
    }
    return null;
  }

  /** Approximate bytes held by the entries. */
  get bytes(): number {
    return this.bytesNow;
  }

  /** `hiddenReason`: the gate hid the answer (text ""); a hit then says why instead of "nothing". */
  set(key: CompletionKey, text: string, hiddenReason?: string): void {
    const id = entryId(key);
    this.remove(id);
    const entry: Entry = { ...key, text, ...(hiddenReason ? { hiddenReason } : {}) };
    const size = entryBytes(id, entry);
    if (size > this.maxBytes) return;
    this.entries.set(id, entry);
    this.bytesNow += size;
    while (this.entries.size > this.capacity || this.bytesNow > this.maxBytes) {
      this.remove(this.entries.keys().next().value as string);
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytesNow = 0;
  }

  private remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.bytesNow -= entryBytes(id, e);
  }

  /**
   * How many leading characters of `e.text` the user typed to get from `e.prefix` to `prefix`
   * (0 = not a typed-along continuation). The whole completion typed leaves nothing to serve.
   */
  private typedAlong(e: Entry, prefix: string): number {
    for (let k = 1; k < e.text.length; k++) {
      const grown = (e.prefix + e.text.slice(0, k)).slice(-this.prefixWindow);
      if (grown === prefix) return k;
    }
    return 0;
  }

  private touch(id: string, e: Entry): void {
    this.entries.delete(id);
    this.entries.set(id, e);
  }
}

function entryId(k: CompletionKey): string {
  return JSON.stringify([k.settings, k.suffix, k.prefix]);
}

function entryBytes(id: string, e: Entry): number {
  return 2 * (id.length + e.prefix.length + e.suffix.length + e.settings.length + e.text.length + (e.hiddenReason?.length ?? 0));
}
