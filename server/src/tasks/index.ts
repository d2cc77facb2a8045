/** Task checkers by name, mirroring training/edit_dllm/tasks/*.py `check(item, generated)`. */
import { checkArith } from "./arith";
import { checkCode } from "./code";
import { checkCountdown } from "./countdown";
import { checkSudoku } from "./sudoku";

export interface TaskItem {
  task: string;
  prompt: string;
  /** Reference answer (worked solution + final answer); only `code` compares against it directly. */
  answer: string;
}

export type TaskChecker = (item: TaskItem, generated: string) => boolean;

export const TASK_CHECKERS: Readonly<Record<string, TaskChecker>> = {
  arith: (item, g) => checkArith(item.prompt, g),
  countdown: (item, g) => checkCountdown(item.prompt, g),
  sudoku: (item, g) => checkSudoku(item.prompt, g),
  code: (item, g) => checkCode(item.answer, g),
};

export function checkerFor(task: string): TaskChecker | undefined {
  return TASK_CHECKERS[task];
}

/**
 * Items of a task without a checker (a converted bundle's `chat`, prompts of your own) are scored by
 * exact match: the generated text equals the item's answer, surrounding whitespace ignored.
 */
export const exactMatch: TaskChecker = (item, g) => g.trim() === item.answer.trim();

/** The task's checker, or exact match with the item's answer when the task has none (edit-dllm eval). */
export function scorerFor(task: string): TaskChecker {
  return checkerFor(task) ?? exactMatch;
}
