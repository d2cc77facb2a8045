/**
 * The confidence gate of inline completions: show a completion only when the model was confident
 * enough about it. The signal is the top-1 probability of each generated token at the forward that
 * committed it (the sampler's own confidence, LLaDA's low-confidence remasking score), over the tokens
 * that make up the shown text; "mean" or "min" of them is compared with a threshold calibrated on the
 * code task's val split (docs/inline-gate.md: share of shown completions that are right vs share shown).
 */
import type { GenerationTrace } from "../../../protocol/trace";

export type GateStatistic = "mean" | "min";

export interface GateSettings {
  /** Show when the statistic is >= this; 0 shows everything. */
  threshold: number;
  statistic: GateStatistic;
}

/**
 * Calibrated on the embedded bundle's code val split (docs/inline-gate.md): no threshold makes the
 * shown completions right half of the time, so the default is the lowest grid threshold at which
 * none of the 500 val completions is shown (mean 0.8): the toy model stays quiet.
 */
export const DEFAULT_GATE: GateSettings = { threshold: 0.8, statistic: "mean" };

export type GateVerdict =
  | { show: true; confidence: number | null }
  | { show: false; confidence: number | null; reason: string };

/**
 * Top-1 probabilities of the first `count` generated tokens (generation order = position order), or
 * null when the trace does not carry them (a sampler without `committedProbs`).
 */
export function generatedTokenProbs(trace: GenerationTrace, count: number): number[] | null {
  const byPosition = new Map<number, number>();
  for (const block of trace.blocks) {
    for (const step of block.steps) {
      const probs = step.committedProbs;
      if (!probs) continue;
      step.committed.forEach((p, i) => {
        const q = probs[i];
        if (q !== undefined) byPosition.set(p, q);
      });
    }
  }
  if (byPosition.size === 0) return null;
  const first = trace.promptIds.length;
  const out: number[] = [];
  for (let p = first; p < first + Math.min(count, trace.genLength); p++) {
    const q = byPosition.get(p);
    if (q === undefined) return null;
    out.push(q);
  }
  return out;
}

export function gateStatistic(probs: readonly number[], statistic: GateStatistic): number {
  if (probs.length === 0) return 0;
  return statistic === "min" ? Math.min(...probs) : probs.reduce((a, b) => a + b, 0) / probs.length;
}

/**
 * Tokens behind a shown text: for a char-level tokenizer one per character; for subword tokenizers
 * this over-counts (a token covers one character or more), which only makes the gate look at a few
 * more tokens than it shows.
 */
export function gate(trace: GenerationTrace, shownText: string, settings: GateSettings): GateVerdict {
  if (settings.threshold <= 0) return { show: true, confidence: null };
  const probs = generatedTokenProbs(trace, Math.max(1, shownText.length));
  // No per-token probabilities in the trace: the gate cannot vouch for the completion, and says so.
  if (!probs) {
    return { show: false, confidence: null, reason: "no confidence signal (the sampler recorded no committedProbs); set edit.inline.minConfidence to 0 to show every completion" };
  }
  const c = gateStatistic(probs, settings.statistic);
  if (c >= settings.threshold) return { show: true, confidence: c };
  return {
    show: false,
    confidence: c,
    reason: `low confidence (${settings.statistic} top-1 probability ${c.toFixed(2)} < ${settings.threshold})`,
  };
}
