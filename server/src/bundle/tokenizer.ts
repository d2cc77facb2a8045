/**
 * The bundle's tokenizer.json through @huggingface/tokenizers (pure JS). Encoding never adds special
 * tokens (the sampler appends mask ids itself); decoding keeps text exactly as the model produced it.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { BundleError } from "../errors";

export interface TextTokenizer {
  /** Number of ids (base vocab + added tokens). */
  readonly size: number;
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
  const vocab = tok.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  return {
    size: maxId + 1,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    // (the library rejects an empty id list; an empty generation decodes to "")
    decode: (ids) =>
      ids.length === 0 ? "" : tok.decode(Array.from(ids), { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    idOf: (token) => tok.token_to_id(token),
    tokenOf: (id) => tok.id_to_token(id),
  };
}
