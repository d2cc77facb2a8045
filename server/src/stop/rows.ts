import type { StepView } from "./rule";

/** Offset of position p's row in a [rows, width] logits/activation array of this forward (rows start at view.rowStart). */
export function rowOffset(view: Pick<StepView, "rowStart">, p: number, width: number): number {
  return (p - view.rowStart) * width;
}
