/** sudoku checker (training/edit_dllm/tasks/sudoku.py): the grid after '#' is a solved 4x4 sudoku agreeing with the givens. */
import { finalAnswer } from "./final-answer";

const GROUPS: number[][] = [
  ...[0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => 4 * r + c)),
  ...[0, 1, 2, 3].map((c) => [0, 1, 2, 3].map((r) => 4 * r + c)),
  ...[0, 2].flatMap((br) => [0, 2].map((bc) => [0, 1].flatMap((r) => [0, 1].map((c) => 4 * (br + r) + bc + c)))),
];

export function isSolvedSudoku(g: string): boolean {
  if (g.length !== 16 || !/^[1-4]+$/.test(g)) return false;
  return GROUPS.every((grp) => new Set(grp.map((i) => g[i])).size === 4);
}

export function checkSudoku(prompt: string, generated: string): boolean {
  const ans = finalAnswer(generated);
  if (ans === null) return false;
  const grid = ans.split("/").join("");
  const puzzle = prompt.split("/").join("");
  if (!isSolvedSudoku(grid)) return false;
  // Python's zip stops at the shorter string.
  for (let i = 0; i < Math.min(puzzle.length, grid.length); i++) if (puzzle[i] !== "." && puzzle[i] !== grid[i]) return false;
  return true;
}
