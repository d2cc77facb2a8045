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
