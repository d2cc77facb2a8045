/** A one-line progress bar on stderr while generating (only when stderr is a terminal). */
import type { StepEvent } from "../../../protocol/trace";

export interface Progress {
  onStep(e: StepEvent): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream, totalBlocks: number, width = 24): Progress {
  if (!stream.isTTY) return { onStep: () => {}, done: () => {} };
  let drawn = false;
  return {
    onStep(e) {
      const frac = Math.min(1, (e.block + e.step.step / e.blockBudget) / totalBlocks);
      const filled = Math.round(frac * width);
      const kl = e.step.kl === null ? "" : `  D_t ${e.step.kl.toExponential(2)}`;
      stream.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] block ${e.block + 1}/${totalBlocks} step ${e.step.step}/${e.blockBudget}${kl}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}
