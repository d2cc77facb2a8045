/** The text after the last '#', whitespace-trimmed; null when there is no '#' (training/edit_dllm/tasks/base.py). */
export function finalAnswer(text: string): string | null {
  const i = text.lastIndexOf("#");
  return i < 0 ? null : text.slice(i + 1).trim();
}
