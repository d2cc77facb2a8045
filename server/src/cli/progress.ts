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

/** "1 min 32 s", "41 s": a duration as people read it. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export interface ItemProgress {
  update(done: number, total: number): void;
  done(): void;
}

/**
 * Progress of long item loops (bench) on stderr, with the time elapsed and an estimate of the time
 * left from the mean time per item so far. On a terminal one line redrawn in place; otherwise (CI
 * logs, a pipe) a line at every tenth of the work, so a log still shows that it moves.
 */
export function createItemProgress(stream: { isTTY?: boolean; write(s: string): boolean }, label: string, now: () => number = Date.now, width = 24): ItemProgress {
  const t0 = now();
  let lastTenth = -1;
  let drawn = false;
  return {
    update(done, total) {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const elapsed = now() - t0;
      const left = done > 0 ? (elapsed / done) * (total - done) : null;
      const timing = `${formatDuration(elapsed)} elapsed${left === null ? "" : done < total ? `, about ${formatDuration(left)} left` : ""}`;
      if (stream.isTTY) {
        const filled = Math.round(frac * width);
        stream.write(`\r${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} items, ${timing}\x1b[K`);
        drawn = true;
        return;
      }
      const tenth = Math.floor(frac * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        stream.write(`${label}: ${done}/${total} items (${Math.round(frac * 100)} %), ${timing}\n`);
      }
    },
    done() {
      if (drawn) stream.write("\r\x1b[K");
      drawn = false;
    },
  };
}
