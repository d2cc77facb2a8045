/** code checker (training/edit_dllm/tasks/code.py): the first generated line equals the reference rest-of-line, trailing whitespace ignored. */
export function checkCode(answer: string, generated: string): boolean {
  return generated.split("\n", 1)[0].trimEnd() === answer.trimEnd();
}
