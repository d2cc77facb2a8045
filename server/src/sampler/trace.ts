/** Assembles the GenerationTrace (protocol/trace.ts) from a finished denoising run. */
import type { ParamValue } from "../../../protocol/lsp";
import type { BlockTrace, GenerationTrace } from "../../../protocol/trace";
import type { DenoiseResult } from "./denoise";

export interface TraceHeader {
  bundle: string;
  provider: string;
  rule: string;
  params: Record<string, ParamValue>;
  task: string | null;
  promptIds: number[];
  genLength: number;
  blockLength: number;
  steps: number;
}

export function buildTrace(h: TraceHeader, run: DenoiseResult, text: string, wallMs: number): GenerationTrace {
  return {
    version: 1,
    ...h,
    outputIds: run.outputIds,
    text,
    blocks: run.blocks,
    totals: {
      forwards: run.blocks.reduce((a, b) => a + b.stepsUsed, 0),
      budget: run.blocks.reduce((a, b) => a + b.budget, 0),
      certifiedFraction: certifiedFraction(run.blocks),
      forwardMs: run.forwardMs,
      ruleMs: run.ruleMs,
      wallMs,
    },
  };
}

/** Fraction of stopped blocks whose stop satisfies Theorem 4; null when no block stopped. */
export function certifiedFraction(blocks: readonly BlockTrace[]): number | null {
  const stopped = blocks.filter((b) => b.stopStep !== null);
  if (stopped.length === 0) return null;
  return stopped.filter((b) => b.certificate?.thm4 === true).length / stopped.length;
}

/** Generated ids up to (not including) the first eos. */
export function idsBeforeEos(outputIds: readonly number[], eosId: number): number[] {
  const i = outputIds.indexOf(eosId);
  return i < 0 ? [...outputIds] : outputIds.slice(0, i);
}
