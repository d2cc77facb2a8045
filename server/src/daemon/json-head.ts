/**
 * The scalar members that open a JSON object, read from its first bytes without parsing the rest: a
 * JSON-RPC message's "jsonrpc", "id" and "method" come before its "params" in what editors send, so a
 * large request can be told apart from its first kilobytes (framing.ts skips a too-large edit/generate
 * unread). Members are read in order up to the first one whose value is an object or an array, or to
 * the end of the bytes; a member cut off by the end is left out. JSON.parse does each key and value.
 */
export type JsonScalar = string | number | boolean | null;

/** The leading scalar members, or null when the bytes do not open a JSON object or a member is malformed. */
export function jsonHead(bytes: Buffer): Map<string, JsonScalar> | null {
  // A character cut at the end of the bytes decodes as U+FFFD; it can only fall in the member left out.
  const text = bytes.toString("utf8");
  const out = new Map<string, JsonScalar>();
  let i = skipSpace(text, 0);
  if (text[i] !== "{") return null;
  i = skipSpace(text, i + 1);
  while (i < text.length) {
    if (text[i] === "}") return out;
    const key = readString(text, i);
    if (key === null) return i >= text.length ? out : null;
    if (key === "cut") return out;
    i = skipSpace(text, key.end);
    if (i >= text.length) return out;
    if (text[i] !== ":") return null;
    i = skipSpace(text, i + 1);
    if (i >= text.length) return out;
    if (text[i] === "{" || text[i] === "[") return out;
    let value: { value: JsonScalar; end: number };
    if (text[i] === '"') {
      const s = readString(text, i);
      if (s === null) return null;
      if (s === "cut") return out;
      value = s;
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
      if (!m) return null;
      if (i + m[0].length >= text.length) return out; // a number may go on past the bytes read
      value = { value: JSON.parse(m[0]) as JsonScalar, end: i + m[0].length };
    }
    out.set(key.value, value.value);
    i = skipSpace(text, value.end);
    if (text[i] === ",") i = skipSpace(text, i + 1);
    else if (text[i] === "}" || i >= text.length) continue;
    else return null;
  }
  return out;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  return i;
}

/** A JSON string starting at text[i]: its value and end, "cut" when the text ends inside it, null when malformed. */
function readString(text: string, i: number): { value: string; end: number } | "cut" | null {
  if (text[i] !== '"') return null;
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
  if (j >= text.length) return "cut";
  try {
    return { value: JSON.parse(text.slice(i, j + 1)) as string, end: j + 1 };
  } catch {
    return null;
  }
}
