/** arith checker (training/edit_dllm/tasks/arith.py): the final answer equals the prompt expression's value. */
import { finalAnswer } from "./final-answer";

export function evaluateArith(prompt: string): number {
  let total = 0;
  let num = "";
  let sign = 1;
  for (const ch of prompt + "+") {
    if (ch >= "0" && ch <= "9") num += ch;
    else {
      total += sign * Number(num);
      num = "";
      sign = ch === "+" ? 1 : -1;
    }
  }
  return total;
}

export function checkArith(prompt: string, generated: string): boolean {
  const ans = finalAnswer(generated);
  if (ans === null || !/^[0-9]+$/.test(ans)) return false;
  return Number(ans) === evaluateArith(prompt);
}
