/**
 * Suffix de-duplication for inline completions: the ghost text is inserted at the cursor and the
 * rest of the line stays after it, so a completion whose tail repeats the start of that rest would
 * show it twice ("foo(a, b))"). Continue had to fix exactly these cases (closing brackets the editor
 * auto-inserted, the rest of a line the user already typed); the rule here follows theirs: trim the
 * longest overlap between the end of the completion's last line and the start of the text after the
 * cursor on the same line.
 *
 * A one-character overlap is trimmed only when that character is a closer (a bracket or a quote):
 * "fo" + "o bar" may well be intended as "foo bar", but "x)" before ")" is never "x))".
 */

const CLOSERS = new Set([")", "]", "}", '"', "'", "`", ">", ";", ","]);

/** The text after the cursor up to the end of its line. */
export function lineSuffix(after: string): string {
  const nl = after.search(/\r?\n/);
  return nl < 0 ? after : after.slice(0, nl);
}

/**
 * The completion with its overlap with `after` (the document text after the cursor) removed.
 * Only the completion's last line can run into the rest of the cursor's line.
 */
export function dedupSuffix(completion: string, after: string): string {
  const rest = lineSuffix(after);
  if (!completion || !rest.trim()) return completion;
  const lastNl = completion.lastIndexOf("\n");
  const head = completion.slice(0, lastNl + 1);
  const last = completion.slice(lastNl + 1);
  // Trailing spaces of the completion never matter for the overlap ("x) " before ")").
  const lastTrimmed = last.replace(/[ \t]+$/, "");
  const restTrimmed = rest.replace(/^[ \t]+/, "");
  for (let k = Math.min(lastTrimmed.length, restTrimmed.length); k >= 1; k--) {
    const overlap = restTrimmed.slice(0, k);
    if (!lastTrimmed.endsWith(overlap)) continue;
    if (k === 1 && !CLOSERS.has(overlap)) break;
    return head + lastTrimmed.slice(0, lastTrimmed.length - k).replace(/[ \t]+$/, (ws) => (restTrimmed.length < rest.length ? "" : ws));
  }
  return completion;
}
