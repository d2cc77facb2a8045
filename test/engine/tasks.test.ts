import { test } from "node:test";
import assert from "node:assert/strict";
import { checkerFor } from "../../server/src/tasks/index";

// [task, prompt, answer, generated, expected]: expected values are the Python checkers' verdicts
// (training/edit_dllm/tasks/*.py check(item, generated)), computed once with the reference code.
const CASES: [string, string, string, string, boolean][] = [
  ["arith", "347+85-126", "", "x#306", true],
  ["arith", "347+85-126", "", "#306 ", true],
  ["arith", "347+85-126", "", "#305", false],
  ["arith", "347+85-126", "", "no hash", false],
  ["arith", "10-5", "", "#-5", false],
  ["arith", "10-5", "", "a#1#5", true],
  ["countdown", "7 3 12>33", "", "7*3=21#(7*3)+12", true],
  ["countdown", "7 3 12>33", "", "#12+7*3", true],
  ["countdown", "7 3 12>33", "", "#7*3+12+0", false],
  ["countdown", "7 3 12>33", "", "#(7*3)+12)", false],
  ["countdown", "8 4 2>4", "", "#8/4*2", true],
  ["countdown", "8 4 2>1", "", "#8/(4*2)", true],
  ["countdown", "8 4 2>1", "", "#8//4//2", false],
  ["countdown", "8 4 2>4", "", "#-8/4*2", false],
  ["countdown", "6 4 3>8", "", "#6/3*4", true],
  ["countdown", "9 2 3>6", "", "#9/3*2", true],
  ["countdown", "9 2 3>6", "", "# 9 / 3 * 2 ", true],
  ["countdown", "9 2 3>6", "", "#09/3*2", false],
  ["sudoku", "1.34/34.2/2.43/4321", "", "b2g1j1#1234/3412/2143/4321", true],
  ["sudoku", "1.34/34.2/2.43/4321", "", "#1234/3412/2143/4312", false],
  ["sudoku", "1.34/34.2/2.43/4321", "", "#2134/3412/1243/4321", false],
  ["sudoku", "1.34/34.2/2.43/4321", "", "#12343412/2143/4321", true],
  ["code", "x = 1\nfoo(", "a, b)", "a, b)\nmore", true],
  ["code", "x\ny", "a", "a ", true],
  ["code", "x\ny", "a", "ab", false]
];

test("TypeScript task checkers agree with the Python checkers", () => {
  for (const [task, prompt, answer, generated, expected] of CASES) {
    const check = checkerFor(task)!;
    assert.equal(check({ task, prompt, answer }, generated), expected, `${task} ${JSON.stringify(prompt)} ${JSON.stringify(generated)}`);
  }
});
