/**
 * The panel's view state and how each WebviewMessage changes it. Pure (no DOM): unit-tested in
 * test/webview/state.test.ts, rendered by render.ts, persisted with acquireVsCodeApi().setState.
 */
import type { WebviewMessage } from "../../protocol/lsp";
import type { CertificateFlags, GenerationTrace, StepEvent } from "../../protocol/trace";

export interface StepPoint {
  step: number;
  /** Eq 8 D_t; null when undefined (|I_t| < 2). */
  kl: number | null;
  counter: number | null;
  margin: number | null;
  polish: boolean;
}

export interface BlockView {
  index: number;
  budget: number;
  stepsUsed: number;
  stopStep: number | null;
  endedBy: string | null;
  delta: number | null;
  omega: number | null;
  certificate: CertificateFlags | null;
  points: StepPoint[];
  /** Absolute positions committed in this block, and which of them early. */
  committed: number[];
  early: number[];
}

export interface TokenCell {
  /** The token's text when it can be told (char-level bundles), else null. */
  text: string | null;
  id: number;
  early: boolean;
  block: number;
}

export interface ViewState {
  phase: "empty" | "streaming" | "done";
  prompt: string;
  rule: string;
  blockBudget: number;
  blocks: BlockView[];
  text: string;
  tokens: TokenCell[];
  /** Set once the final trace has arrived. */
  totals: { forwards: number; budget: number; certifiedFraction: number | null; wallMs: number } | null;
  bundle: string | null;
  provider: string | null;
}

export const EMPTY_STATE: ViewState = {
  phase: "empty",
  prompt: "",
  rule: "",
  blockBudget: 0,
  blocks: [],
  text: "",
  tokens: [],
  totals: null,
  bundle: null,
  provider: null,
};

function emptyBlock(index: number, budget: number, delta: number | null): BlockView {
  return { index, budget, stepsUsed: 0, stopStep: null, endedBy: null, delta, omega: null, certificate: null, points: [], committed: [], early: [] };
}

function applyStep(state: ViewState, ev: StepEvent): ViewState {
  const blocks = state.blocks.slice();
  while (blocks.length <= ev.block) blocks.push(emptyBlock(blocks.length, ev.blockBudget, null));
  const b = { ...blocks[ev.block] };
  b.budget = ev.blockBudget;
  if (ev.delta !== null) b.delta = ev.delta;
  const s = ev.step;
  b.points = [...b.points.filter((p) => p.step !== s.step), { step: s.step, kl: s.kl, counter: s.counter, margin: s.margin, polish: s.polish }].sort((x, y) => x.step - y.step);
  b.stepsUsed = b.points.length;
  b.committed = [...b.committed, ...s.committed];
  b.early = [...b.early, ...s.early];
  blocks[ev.block] = b;
  return { ...state, phase: "streaming", blocks, blockBudget: state.blockBudget || ev.blockBudget };
}

/**
 * Splits the decoded text into per-token cells when every generated token decodes to one character
 * (the embedded char-level bundle); otherwise cells carry ids only and the text is shown whole.
 */
export function tokenCells(trace: GenerationTrace): TokenCell[] {
  const promptLen = trace.promptIds.length;
  const earlySet = new Set<number>();
  const blockOf = new Map<number, number>();
  for (const b of trace.blocks) {
    for (const s of b.steps) {
      for (const p of s.early) earlySet.add(p);
      for (const p of s.committed) blockOf.set(p, b.index);
    }
  }
  const blockLength = trace.blockLength || 1;
  const chars = [...trace.text];
  // The text is the decode of the generated ids up to the first eos. With a char-level tokenizer
  // (the embedded bundle) token i is character i; a BPE text has more characters than that, and
  // then the cells carry ids only (the text is shown whole, unhighlighted).
  const charLevel = chars.length <= trace.outputIds.length;
  const n = charLevel ? chars.length : trace.outputIds.length;
  const cells: TokenCell[] = [];
  for (let i = 0; i < n; i++) {
    const pos = promptLen + i;
    cells.push({
      text: charLevel ? chars[i] : null,
      id: trace.outputIds[i],
      early: earlySet.has(pos),
      block: blockOf.get(pos) ?? Math.floor(i / blockLength),
    });
  }
  return cells;
}

export function fromTrace(trace: GenerationTrace, prompt: string): ViewState {
  const blocks: BlockView[] = trace.blocks.map((b) => ({
    index: b.index,
    budget: b.budget,
    stepsUsed: b.stepsUsed,
    stopStep: b.stopStep,
    endedBy: b.endedBy,
    delta: b.delta,
    omega: b.omega,
    certificate: b.certificate,
    points: b.steps.map((s) => ({ step: s.step, kl: s.kl, counter: s.counter, margin: s.margin, polish: s.polish })),
    committed: b.steps.flatMap((s) => s.committed),
    early: b.steps.flatMap((s) => s.early),
  }));
  return {
    phase: "done",
    prompt,
    rule: trace.rule,
    blockBudget: blocks[0]?.budget ?? 0,
    blocks,
    text: trace.text,
    tokens: tokenCells(trace),
    totals: { forwards: trace.totals.forwards, budget: trace.totals.budget, certifiedFraction: trace.totals.certifiedFraction, wallMs: trace.totals.wallMs },
    bundle: trace.bundle,
    provider: trace.provider,
  };
}

export function reduce(state: ViewState, msg: WebviewMessage): ViewState {
  switch (msg.type) {
    case "clear":
      return EMPTY_STATE;
    case "begin":
      return {
        ...EMPTY_STATE,
        phase: "streaming",
        prompt: msg.prompt,
        rule: msg.rule,
        blockBudget: msg.blockBudget,
        blocks: Array.from({ length: msg.blocks }, (_, i) => emptyBlock(i, msg.blockBudget, null)),
      };
    case "step":
      return applyStep(state, msg.event);
    case "trace":
      return fromTrace(msg.trace, state.prompt);
  }
}

/** Forwards run vs budget over all blocks so far (live while streaming). */
export function forwardsSoFar(state: ViewState): { forwards: number; budget: number } {
  if (state.totals) return { forwards: state.totals.forwards, budget: state.totals.budget };
  return {
    forwards: state.blocks.reduce((a, b) => a + b.stepsUsed, 0),
    budget: state.blocks.reduce((a, b) => a + b.budget, 0),
  };
}
