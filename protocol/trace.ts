/**
 * The generation trace: the one record every consumer reads (CLI, daemon, webview, bench).
 * Its JSON Schema is committed at schemas/trace.schema.json and must stay in step with this file.
 * No imports: this file is shared by server, client and webview.
 */

/** One denoising step (one model forward) of one block. */
export interface StepTrace {
  /** 1-based step index within the block. */
  step: number;
  /** Positions (absolute, in the full sequence) of the current block visible in this forward's input: S_t. */
  visible: number[];
  /** Eq 5 similarity per visible position, same order as `visible` (null for rules that compute none). */
  sims: number[] | null;
  /** Eq 8 matched-support KL D_t; null when undefined (|I_t| < 2) or not computed by the rule. */
  kl: number | null;
  /** Run-length counter c after this step (Alg. 1). */
  counter: number | null;
  /** Top-2 margin m_t of P~(t) on I_t; null when undefined. */
  margin: number | null;
  /** Positions committed (unmasked) after this forward, with their token ids. */
  committed: number[];
  committedIds: number[];
  /** Top-1 probability of each committed token at this forward, same order as `committed` (optional: older traces lack it). */
  committedProbs?: number[];
  /** Of `committed`, those committed early by a per-step rule (confidence, jot, edit-token) or by a stop. */
  early: number[];
  /** Positions committed earlier in this block and masked again after this step (WINO's re-masking). */
  remasked?: number[];
  /** True when this is a polish forward after an early stop. */
  polish: boolean;
  /** Milliseconds in the model forward vs in the stop rule's bookkeeping. */
  forwardMs: number;
  ruleMs: number;
  /** Tokens computed in this forward (the whole sequence without a K/V cache; optional: older traces lack it). */
  forwardTokens?: number;
  /** With a K/V cache: true when this forward recomputed the cache (a refresh), false when it read it. */
  refreshed?: boolean;
}

/** How the request's context was fitted and cached (optional: older traces lack it). */
export interface ContextTrace {
  /** The model's limit on prompt + generation tokens (bundle.json model.max_len); null = none. */
  maxLen: number | null;
  /** Prompt tokens dropped from the left to fit maxLen (completions only; generate refuses instead). */
  droppedTokens: number;
  /** The cache mode asked for and the one that ran (a graph without past K/V runs `none`). */
  cacheRequested: "none" | "prefix" | "dual";
  cacheMode: "none" | "prefix" | "dual";
  /** Refresh after this many forwards per capture; null = at block starts only. */
  cacheRefreshEvery: number | null;
  /** Prompt tokens whose K/V came from the cross-request prefix cache. */
  promptCacheTokens: number;
  /** Prompt tokens that are the bundle's unk id: characters the vocabulary lacks (e.g. emoji in a char model). */
  unknownTokens?: number;
  /** Why the mode that ran differs from the one asked for, when it does. */
  note?: string;
}

export interface CertificateFlags {
  /** Theorem 2 (Eq 18): Omega * sqrt(delta/2) < m_t / 2. */
  thm2: boolean;
  /** Theorem 4 (Eq 20) with the bundle's alpha-hat: Omega*sqrt(d/2) + sqrt(d/2)/(1-alpha) < m_t/2. A "certified stop". */
  thm4: boolean;
  /** Corollary 6 (Eq 24): the block's (delta, Omega) satisfy the bound with the bundle's alpha-hat and q. */
  cor6: boolean;
  margin: number;
  delta: number;
  omega: number;
  alphaHat: number;
  q: number;
}

export interface BlockTrace {
  index: number;
  /** Absolute positions [start, end) of the block. */
  start: number;
  end: number;
  /** The block's forward budget T_b. */
  budget: number;
  /** Forwards actually run for this block (polish forwards included). */
  stepsUsed: number;
  /** Step at which the stop rule stopped the block; null when it ran to the budget. */
  stopStep: number | null;
  /** Why the block ended. */
  endedBy: "budget" | "stop-rule" | "all-committed" | "eos-skip";
  /** The rule's delta for this block (EDIT rules), for drawing the D_t series against it. */
  delta: number | null;
  omega: number | null;
  certificate: CertificateFlags | null;
  steps: StepTrace[];
}

export interface GenerationTrace {
  version: 1;
  bundle: string;
  provider: string;
  rule: string;
  params: Record<string, number | string | boolean>;
  task: string | null;
  promptIds: number[];
  /** Final generated ids (gen_length of them, eos-filled), and the decoded text (up to the first eos). */
  outputIds: number[];
  text: string;
  genLength: number;
  blockLength: number;
  steps: number;
  blocks: BlockTrace[];
  context?: ContextTrace;
  totals: {
    forwards: number;
    budget: number;
    /** Fraction of stopped blocks whose stop satisfies Theorem 4 (certified); null with no stops. */
    certifiedFraction: number | null;
    forwardMs: number;
    ruleMs: number;
    wallMs: number;
  };
}

/** Streamed to consumers as each step happens. */
export interface StepEvent {
  block: number;
  blockBudget: number;
  delta: number | null;
  step: StepTrace;
}
