/**
 * The most characters of input text one token of a tokenizer.json can stand for, found from the file
 * alone (no encoding). With it a prompt is checked in characters before it is tokenized (issue 22): a
 * text of N characters is at least ceil(N / bound) tokens, so one longer than the model's window is
 * refused, and a completion's window cut, without encoding megabytes first.
 *
 * Why the bound holds (Hugging Face tokenizers pipeline: normalizer -> pre-tokenizer -> model, added
 * tokens split out first):
 * - an added token matches its own content, so it covers content.length characters;
 * - a model token's string spells what it covers: a char/BPE/WordPiece token of k characters covers
 *   at most k characters (WordPiece's "##" and Metaspace's "▁" only add characters to the string); a
 *   byte-level token (GPT-2 alphabet, one character per byte) of k characters is k UTF-8 bytes, so at
 *   most k characters of text;
 * - an unknown token covers one character, unless the model fuses runs of them (BPE fuse_unk, Unigram)
 *   or maps a whole word to it (WordLevel; WordPiece up to max_input_chars_per_word);
 * - normalizers and pre-tokenizers that delete or contract text (Strip, NFC/NFKC, Whitespace splits)
 *   break the argument.
 * Where any part is outside these cases the answer is null: no character bound, only the configured
 * maximum prompt size applies.
 */

/** Normalizers that never delete or merge characters (lowercasing only maps or expands). */
const SAFE_NORMALIZERS = new Set(["Lowercase"]);
/** Pre-tokenizers that keep every character of the text (they only split, or mark spaces 1:1). */
const SAFE_PRE_TOKENIZERS = new Set(["ByteLevel", "Metaspace", "Digits", "Punctuation", "Split", "UnicodeScripts"]);

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function safeComponent(c: unknown, safe: Set<string>): boolean {
  if (c === null || c === undefined) return true;
  if (!isObj(c)) return false;
  if (c.type === "Sequence") {
    const parts = c.normalizers ?? c.pretokenizers;
    return Array.isArray(parts) && parts.every((p) => safeComponent(p, safe));
  }
  if (c.type === "Split" && typeof c.behavior === "string" && c.behavior.toLowerCase() === "removed") return false;
  return typeof c.type === "string" && safe.has(c.type);
}

export function maxCharsPerToken(tokenizerJson: unknown): number | null {
  if (!isObj(tokenizerJson) || !isObj(tokenizerJson.model)) return null;
  const model = tokenizerJson.model;
  if (!safeComponent(tokenizerJson.normalizer, SAFE_NORMALIZERS)) return null;
  if (!safeComponent(tokenizerJson.pre_tokenizer, SAFE_PRE_TOKENIZERS)) return null;
  const type = model.type ?? (isObj(model.vocab) && Array.isArray(model.merges) ? "BPE" : undefined);
  const hasUnk = model.unk_token !== undefined && model.unk_token !== null;
  let unkChars = 1;
  if (type === "BPE") {
    if (hasUnk && model.fuse_unk === true) return null;
  } else if (type === "WordPiece") {
    const most = model.max_input_chars_per_word;
    unkChars = typeof most === "number" && Number.isFinite(most) ? most : 100;
  } else if (type === "WordLevel" || type === "Unigram") {
    if (hasUnk || (type === "Unigram" && model.unk_id !== undefined && model.unk_id !== null)) return null;
  } else return null;
  let most = unkChars;
  const vocab = model.vocab;
  if (isObj(vocab)) {
    for (const k of Object.keys(vocab)) most = Math.max(most, k.length);
  } else if (Array.isArray(vocab)) {
    // Unigram: [piece, score] pairs.
    for (const e of vocab) if (Array.isArray(e) && typeof e[0] === "string") most = Math.max(most, e[0].length);
  } else return null;
  if (Array.isArray(tokenizerJson.added_tokens)) {
    for (const t of tokenizerJson.added_tokens) if (isObj(t) && typeof t.content === "string") most = Math.max(most, t.content.length);
  }
  return most;
}
