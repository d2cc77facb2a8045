/**
 * The model input for an inline completion at a cursor. The `code` task was trained on line
 * completion (training/edit_dllm/tasks/code.py): prompt = the tail of the previous line and the
 * current line up to the cursor, both stripped of indentation, joined by "\n", at most 48 characters
 * (MAX_PROMPT_CHARS); answer = the rest of the current line. Other tasks get the last characters
 * before the cursor. Both are a window sliding over the text, which the typed-along cache relies on.
 */

/** training/edit_dllm/tasks/base.py MAX_PROMPT_CHARS. */
export const CODE_PROMPT_CHARS = 48;

export interface InlinePrompt {
  prompt: string;
  /** The window size the prompt was cut with (the cache's typed-along check slides by it). */
  window: number;
}

export function codeTaskPrompt(before: string): string {
  const nl = before.lastIndexOf("\n");
  const cur = before.slice(nl + 1).trimStart();
  const prevStart = nl > 0 ? before.lastIndexOf("\n", nl - 1) + 1 : 0;
  const prev = nl >= 0 ? before.slice(prevStart, nl).trim() : "";
  if (cur.length >= CODE_PROMPT_CHARS) return "\n" + cur.slice(-(CODE_PROMPT_CHARS - 1));
  // Equal to code.py's prev[-room:] + "\n" + prefix with room = 48 - len(prefix) - 1.
  return (prev + "\n" + cur).slice(-CODE_PROMPT_CHARS);
}

/** The code task answers one line: the generated text up to the first newline. */
export function codeTaskAnswer(text: string): string {
  return text.split("\n", 1)[0] ?? "";
}

/** Default characters of document around the cursor for an infilling model (the engine trims tokens to max_len). */
export const INFILL_CHARS = 8192;

/** Characters of document context an infilling model gets around the cursor (the engine then fits tokens to max_len). */
export interface DocumentWindowOptions {
  /** Total characters of prefix + suffix to send. */
  maxChars: number;
  /** Largest share of maxChars the suffix may take (the text before the cursor matters most). */
  suffixShare: number;
}

export interface DocumentWindow {
  prefix: string;
  suffix: string;
}

/**
 * Prefix AND suffix from the document for a model that infills (bundle.json infill): the suffix is cut at
 * a line end within its share, the prefix takes the rest of the budget from the text before the cursor.
 * The engine drops further prefix tokens from the left (and suffix tokens from the right) to fit max_len.
 */
export function documentWindow(before: string, after: string, o: DocumentWindowOptions): DocumentWindow {
  if (!(o.maxChars >= 1) || !(o.suffixShare >= 0 && o.suffixShare <= 1)) {
    throw new RangeError(`documentWindow: maxChars >= 1 and suffixShare in [0, 1] expected, got ${o.maxChars}, ${o.suffixShare}`);
  }
  let suffix = after.slice(0, Math.floor(o.maxChars * o.suffixShare));
  if (suffix.length < after.length) {
    const nl = suffix.lastIndexOf("\n");
    if (nl > 0) suffix = suffix.slice(0, nl + 1);
  }
  const room = o.maxChars - suffix.length;
  return { prefix: room > 0 ? before.slice(-room) : "", suffix };
}

/**
 * Where a prompt window of `window` characters ending at `cursor` starts, moved only in steps of `anchor`
 * characters: consecutive keystrokes then share the prompt's start, so the cross-request prompt K/V cache
 * (model/prefix-cache.ts) serves all but the last few tokens. The window holds between window - anchor and
 * window characters (all of them near the file start).
 */
export function anchoredWindowStart(cursor: number, window: number, anchor: number): number {
  if (!(window >= 1 && anchor >= 1 && anchor <= window)) throw new RangeError(`anchoredWindowStart: need 1 <= anchor <= window, got ${anchor}, ${window}`);
  if (cursor <= window) return 0;
  return Math.ceil((cursor - window) / anchor) * anchor;
}
