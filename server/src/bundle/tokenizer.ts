/**
 * The bundle's tokenizer.json through @huggingface/tokenizers (pure JS). Encoding never adds special
 * tokens (the sampler appends mask ids itself); decoding keeps text exactly as the model produced it.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { BundleError } from "../errors";
import { maxCharsPerToken } from "./token-chars";

export interface TextTokenizer {
  /** Number of ids (base vocab + added tokens). */
  readonly size: number;
  /** The most characters of text one token stands for (token-chars.ts); null where no safe bound is known. */
  readonly maxCharsPerToken: number | null;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  idOf(token: string): number | undefined;
  tokenOf(id: number): string | undefined;
}

export function createTokenizer(json: unknown, file: string): TextTokenizer {
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as object, {});
  } catch (e) {
    throw new BundleError(file, "", "a Hugging Face tokenizers JSON loadable by @huggingface/tokenizers", (e as Error).message);
  }
  capWordCache(tok);
  const vocab = tok.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  return {
    size: maxId + 1,
    maxCharsPerToken: maxCharsPerToken(json),
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    // (the library rejects an empty id list; an empty generation decodes to "")
    decode: (ids) =>
      ids.length === 0 ? "" : tok.decode(Array.from(ids), { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    idOf: (token) => tok.token_to_id(token),
    tokenOf: (id) => tok.id_to_token(id),
  };
}

/** Words the BPE model keeps encoded for reuse (the library's default is 10,000). */
const WORD_CACHE_ENTRIES = 1024;

/**
 * @huggingface/tokenizers' BPE keeps an LRU of encoded words, 10,000 by default; in a daemon fed
 * arbitrary text (code lines without spaces, ~1 KB each encoded) that is ~10 MB that only grows
 * until it is full (issue 15's soak). The cache is not part of the typed API, hence the guarded reach.
 */
function capWordCache(tok: Tokenizer): void {
  const cache = (tok as unknown as { model?: { cache?: { capacity?: unknown } } }).model?.cache;
  if (cache && typeof cache.capacity === "number") cache.capacity = Math.min(cache.capacity, WORD_CACHE_ENTRIES);
}
