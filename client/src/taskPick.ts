/**
 * The task quick pick of "EDIT: Generate from Prompt": a bundle's prompt only makes sense under the
 * task it was trained for (a countdown prompt under `arith` prints nonsense), so the user picks the
 * task; the last pick in the workspace comes first, else the bundle's default.
 * No vscode import: unit-tested in test/client/taskPick.test.ts.
 */

export interface TaskChoice {
  task: string;
  note: string;
}

/** Prompt examples for the embedded bundle's tasks (the input box placeholder). */
export const PROMPT_EXAMPLES: Record<string, string> = {
  countdown: "17 8 5>30",
  arith: "347+085-126",
  sudoku: "1.34/34.2/2.43/4321 (a 4x4 grid: rows joined by /, . = empty)",
  code: "def add(a, b):",
};

export function taskChoices(tasks: readonly string[], defaultTask: string | undefined, remembered: string | undefined): TaskChoice[] {
  const first = remembered && tasks.includes(remembered) ? remembered : defaultTask && tasks.includes(defaultTask) ? defaultTask : undefined;
  const ordered = first ? [first, ...tasks.filter((t) => t !== first)] : [...tasks];
  return ordered.map((task) => ({
    task,
    note: [task === remembered ? "last used" : "", task === defaultTask ? "bundle default" : ""].filter(Boolean).join(", "),
  }));
}
