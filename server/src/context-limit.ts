/**
 * The context limit (bundle.json model.max_len), checked before any forward: prompt + genLength tokens
 * must fit. A completion drops prompt tokens from the left (the text nearest the cursor matters most);
 * generate refuses with an error naming the limit and both lengths (JSON-RPC -32602, CLI exit 2).
 */
import type { ContextOverflow } from "./engine-types";
import { RequestError } from "./errors";

export interface FitInput {
  /** The task template with "{prompt}" (raw requests: "{prompt}"). */
  template: string;
  prompt: string;
  encode: (text: string) => number[];
  genLength: number;
  /** null = no learned limit (rotary models). */
  maxLen: number | null;
  overflow: ContextOverflow;
}

export interface Fitted {
  promptIds: number[];
  /** Prompt tokens dropped from the left (0 when it fitted). */
  droppedTokens: number;
}

export function fitContext(f: FitInput): Fitted {
  const [head, ...rest] = f.template.split("{prompt}");
  const text = head + f.prompt + rest.join(f.prompt);
  const ids = f.encode(text);
  if (f.maxLen === null || ids.length + f.genLength <= f.maxLen) return { promptIds: ids, droppedTokens: 0 };
  const total = ids.length + f.genLength;
  if (f.overflow === "refuse") {
    throw new RequestError(
      "prompt",
      `prompt + genLength <= ${f.maxLen} tokens (the model's max_len)`,
      `${ids.length} prompt tokens + genLength ${f.genLength} = ${total}; shorten the prompt or lower genLength`,
    );
  }
  // Keep the template's leading tokens (e.g. the task tag) when they tokenize on their own; drop right after them.
  const headIds = head ? f.encode(head) : [];
  const keep = headIds.length > 0 && headIds.every((t, i) => ids[i] === t) ? headIds.length : 0;
  const drop = total - f.maxLen;
  if (ids.length - keep - drop < 1) {
    throw new RequestError(
      "genLength",
      `at most ${f.maxLen - keep - 1} so that one prompt token fits the model's max_len ${f.maxLen}`,
      String(f.genLength),
    );
  }
  return { promptIds: [...ids.slice(0, keep), ...ids.slice(keep + drop)], droppedTokens: drop };
}

export interface InfillInput {
  /** bundle.json infill.template, e.g. "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>{gen}"... */
  template: string;
  prefix: string;
  suffix: string;
  encode: (text: string) => number[];
  genLength: number;
  maxLen: number | null;
  overflow: ContextOverflow;
}

export interface FittedInfill extends Fitted {
  /** Tokens after the generated region (the template's tail with the suffix). */
  suffixIds: number[];
  /** Suffix tokens dropped from the right. */
  droppedSuffixTokens: number;
}

/**
 * Infill: the template splits at {gen} into the ids before the masks and the ids after them. To fit max_len
 * a completion drops suffix tokens from the right down to a quarter of the room, then prefix tokens from the
 * left (fitContext); generate refuses as fitContext does.
 */
export function fitInfill(f: InfillInput): FittedInfill {
  const fill = (t: string) => t.split("{prefix}").join(f.prefix).split("{suffix}").join(f.suffix);
  const at = f.template.indexOf("{gen}");
  if (at < 0) throw new RequestError("infill.template", "a template containing {gen}", f.template);
  const head = f.template.slice(0, at);
  let suffixIds = f.encode(fill(f.template.slice(at + "{gen}".length)));
  let droppedSuffixTokens = 0;
  const headLen = f.encode(fill(head)).length;
  if (f.maxLen !== null && f.overflow === "truncate" && headLen + f.genLength + suffixIds.length > f.maxLen) {
    const keep = Math.min(suffixIds.length, Math.max(0, Math.floor((f.maxLen - f.genLength) / 4)));
    droppedSuffixTokens = Math.min(suffixIds.length - keep, headLen + f.genLength + suffixIds.length - f.maxLen);
    suffixIds = suffixIds.slice(0, suffixIds.length - droppedSuffixTokens);
  }
  // The prefix part is fitted like a prompt whose template is the head, with the suffix's tokens as extra length.
  const headTemplate = head.includes("{prefix}") ? head.replace("{prefix}", "{prompt}") : head + "{prompt}";
  const fitted = fitContext({
    template: headTemplate.split("{suffix}").join(f.suffix),
    prompt: head.includes("{prefix}") ? f.prefix : "",
    encode: f.encode,
    genLength: f.genLength + suffixIds.length,
    maxLen: f.maxLen,
    overflow: f.overflow,
  });
  return { ...fitted, suffixIds, droppedSuffixTokens };
}

/** The default maximum prompt size in characters (setting edit.maxPromptChars, CLI --max-prompt-chars). */
export const DEFAULT_MAX_PROMPT_CHARS = 1_048_576;

export interface CharBoundInput {
  /** Characters of the text around the prompt (template, infill suffix) that are tokenized with it. */
  extraChars: number;
  prompt: string;
  genLength: number;
  maxLen: number | null;
  /** The tokenizer's most characters per token (bundle/token-chars.ts); null: no character bound. */
  maxCharsPerToken: number | null;
  maxPromptChars: number;
  overflow: ContextOverflow;
  /** Which request field the prompt came in (the error names it). */
  field?: string;
  /** Which end `truncate` keeps: the end (a prompt before the cursor, default) or the start (a suffix). */
  keep?: "end" | "start";
}

/**
 * Checks a prompt in characters before it is tokenized (issue 22: a 10 MB prompt was encoded whole,
 * 6.4 s and +2 GB, before the token check refused it). `refuse` throws a RequestError naming both
 * sizes; `truncate` (completions) keeps only the last characters that can still reach the window:
 * (maxLen + 1) tokens' worth, since each token covers at most maxCharsPerToken characters; fitContext
 * then drops tokens from the left as before. Returns the prompt to tokenize.
 */
export function boundPromptChars(b: CharBoundInput): string {
  const field = b.field ?? "prompt";
  let prompt = b.prompt;
  const cut = (n: number) => (b.keep === "start" ? prompt.slice(0, n) : prompt.slice(prompt.length - n));
  if (prompt.length > b.maxPromptChars) {
    if (b.overflow === "refuse") {
      throw new RequestError(field, `at most ${b.maxPromptChars} characters (the maximum prompt size, setting maxPromptChars)`, `${prompt.length} characters`);
    }
    prompt = cut(b.maxPromptChars);
  }
  if (b.maxLen === null || b.maxCharsPerToken === null) return prompt;
  const cpt = b.maxCharsPerToken;
  // N characters are at least ceil(N / cpt) tokens.
  const minTokens = Math.ceil((prompt.length + b.extraChars) / cpt);
  if (minTokens + b.genLength <= b.maxLen) return prompt;
  if (b.overflow === "refuse") {
    throw new RequestError(
      field,
      `prompt + genLength <= ${b.maxLen} tokens (the model's max_len)`,
      `${prompt.length} characters, at least ${minTokens} tokens (one token covers at most ${cpt} characters) + genLength ${b.genLength}; shorten the prompt or lower genLength`,
    );
  }
  const keep = (b.maxLen + 1) * cpt;
  return prompt.length > keep ? cut(keep) : prompt;
}
