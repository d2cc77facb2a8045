/**
 * The bench: runs `full` and the given rules over task items on one engine and aggregates accuracy,
 * forwards per block, reduction vs full, certified fraction, tokens/s, the oracle minimum forwards
 * (from the full run's per-step argmax fills) and the stop rule's bookkeeping share of step time.
 */
import type { ParamValue } from "../../../protocol/lsp";
import type { GenerationTrace } from "../../../protocol/trace";
import { loadEngine, type RuleFactory } from "../../../server/src/public";
import type { EngineOptions } from "../../../server/src/public";
import { readBundleConfig } from "../../../server/src/public";
import { idsBeforeEos } from "../../../server/src/public";
import { createStopRule } from "../../../server/src/public";
import { checkerFor, type TaskItem } from "../../../server/src/public";
import { oracleStopStep, PredictionRecorder } from "./recorder";
import type { ReferenceSection } from "./reference";

export interface BenchRuleSpec {
  /** Rule spec passed to generate; "calibrated" = the task's calibrated rule and params from bundle.json. */
  spec: string;
  params: Record<string, ParamValue>;
}

export interface BenchOptions extends EngineOptions {
  items: TaskItem[];
  rules: BenchRuleSpec[];
  limit?: number;
  onItem?: (done: number, total: number) => void;
}

export interface RuleMetrics {
  items: number;
  correct: number;
  accuracy: number;
  forwards: number;
  /** Blocks actually generated (EOS-skipped blocks excluded). */
  blocks: number;
  avgForwardsPerBlock: number;
  /** 1 - forwards / full's forwards on the same items. */
  reductionVsFull: number | null;
  stops: number;
  certifiedStops: number;
  certifiedFraction: number | null;
  tokens: number;
  tokensPerSec: number;
  forwardMs: number;
  ruleMs: number;
  /** ruleMs / (forwardMs + ruleMs): the EDIT bookkeeping share of step time. */
  bookkeepingShare: number;
  wallMs: number;
}

export interface BenchResults {
  bundle: string;
  provider: string;
  generatedAt: string;
  eosId: number;
  tasks: string[];
  rules: string[];
  /** results[task][rule] and results["all"][rule]. */
  results: Record<string, Record<string, RuleMetrics>>;
  /** Oracle minimum forwards per generated block of the full run, per task and "all". */
  oracle: Record<string, { forwards: number; blocks: number; avgForwardsPerBlock: number; reductionVsFull: number | null }>;
  /** Absolute bundle directory the engine loaded. */
  bundleDir: string;
  /** ONNX Runtime intraOpNumThreads (null: its default). */
  threads: number | null;
  /** params[task][rule]: the rule parameters the engine's traces recorded (handed to the reference). */
  params: Record<string, Record<string, Record<string, ParamValue>>>;
  /** The PyTorch reference sampler's speed on the same items (cli/bench.ts adds it). */
  reference?: ReferenceSection;
}

interface Acc {
  items: number;
  correct: number;
  forwards: number;
  blocks: number;
  stops: number;
  certifiedStops: number;
  tokens: number;
  forwardMs: number;
  ruleMs: number;
  wallMs: number;
}
const emptyAcc = (): Acc => ({ items: 0, correct: 0, forwards: 0, blocks: 0, stops: 0, certifiedStops: 0, tokens: 0, forwardMs: 0, ruleMs: 0, wallMs: 0 });

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  let lastRecorder: PredictionRecorder | null = null;
  const recordingFactory: RuleFactory = (spec, params, ctx) => (lastRecorder = new PredictionRecorder(createStopRule(spec, params, ctx)));
  const engine = await loadEngine(opts, { createRule: recordingFactory });
  const items = opts.items.slice(0, opts.limit ?? opts.items.length);
  const ruleNames = ["full", ...opts.rules.map((r) => r.spec).filter((s) => s !== "full")];
  const acc = new Map<string, Acc>(); // key `${task}\u0000${rule}`
  const oracle = new Map<string, { forwards: number; blocks: number; full: number }>();
  const bump = (task: string, rule: string, t: GenerationTrace, correct: boolean, eosId: number) => {
    for (const key of [`${task}\u0000${rule}`, `all\u0000${rule}`]) {
      const a = acc.get(key) ?? emptyAcc();
      const stopped = t.blocks.filter((b) => b.stopStep !== null);
      a.items++;
      a.correct += correct ? 1 : 0;
      a.forwards += t.totals.forwards;
      a.blocks += t.blocks.filter((b) => b.endedBy !== "eos-skip").length;
      a.stops += stopped.length;
      a.certifiedStops += stopped.filter((b) => b.certificate?.thm4).length;
      a.tokens += idsBeforeEos(t.outputIds, eosId).length;
      a.forwardMs += t.totals.forwardMs;
      a.ruleMs += t.totals.ruleMs;
      a.wallMs += t.totals.wallMs;
      acc.set(key, a);
    }
  };
  const eosId = readBundleConfig(engine.info.bundleDir).ids.eos;
  const usedParams: BenchResults["params"] = {};
  try {
    for (const [n, item] of items.entries()) {
      const check = checkerFor(item.task);
      for (const name of ruleNames) {
        const r = opts.rules.find((x) => x.spec === name) ?? { spec: name, params: {} };
        const { text, trace } = await engine.generate({
          prompt: item.prompt,
          task: item.task,
          stop: r.spec === "calibrated" ? undefined : r.spec,
          params: r.params,
        });
        bump(item.task, name, trace, check ? check(item, text) : false, eosId);
        (usedParams[item.task] ??= {})[name] ??= { ...trace.params };
        if (name === "full" && lastRecorder) {
          const rec: PredictionRecorder = lastRecorder;
          let forwards = 0;
          for (const b of rec.blocks) {
            const final = trace.outputIds.slice(b.start - trace.promptIds.length, b.end - trace.promptIds.length);
            forwards += oracleStopStep(b.predictions, final);
          }
          for (const key of [item.task, "all"]) {
            const o = oracle.get(key) ?? { forwards: 0, blocks: 0, full: 0 };
            o.forwards += forwards;
            o.blocks += rec.blocks.length;
            o.full += trace.totals.forwards;
            oracle.set(key, o);
          }
        }
      }
      opts.onItem?.(n + 1, items.length);
    }
  } finally {
    await engine.dispose();
  }
  const tasks = [...new Set(items.map((i) => i.task))];
  const results: BenchResults["results"] = {};
  for (const task of [...tasks, "all"]) {
    results[task] = {};
    const full = acc.get(`${task}\u0000full`);
    for (const rule of ruleNames) {
      const a = acc.get(`${task}\u0000${rule}`);
      if (a) results[task][rule] = metrics(a, full);
    }
  }
  const oracleOut: BenchResults["oracle"] = {};
  for (const [task, o] of oracle) {
    oracleOut[task] = {
      forwards: o.forwards,
      blocks: o.blocks,
      avgForwardsPerBlock: o.blocks ? o.forwards / o.blocks : 0,
      reductionVsFull: o.full ? 1 - o.forwards / o.full : null,
    };
  }
  return {
    bundle: engine.info.bundle,
    provider: engine.info.provider,
    generatedAt: new Date().toISOString(),
    eosId,
    tasks,
    rules: ruleNames,
    results,
    oracle: oracleOut,
    bundleDir: engine.info.bundleDir,
    threads: opts.threads ?? null,
    params: usedParams,
  };
}

function metrics(a: Acc, full: Acc | undefined): RuleMetrics {
  return {
    items: a.items,
    correct: a.correct,
    accuracy: a.items ? a.correct / a.items : 0,
    forwards: a.forwards,
    blocks: a.blocks,
    avgForwardsPerBlock: a.blocks ? a.forwards / a.blocks : 0,
    reductionVsFull: full && full.forwards ? 1 - a.forwards / full.forwards : null,
    stops: a.stops,
    certifiedStops: a.certifiedStops,
    certifiedFraction: a.stops ? a.certifiedStops / a.stops : null,
    tokens: a.tokens,
    tokensPerSec: a.wallMs ? (1000 * a.tokens) / a.wallMs : 0,
    forwardMs: a.forwardMs,
    ruleMs: a.ruleMs,
    bookkeepingShare: a.forwardMs + a.ruleMs ? a.ruleMs / (a.forwardMs + a.ruleMs) : 0,
    wallMs: a.wallMs,
  };
}
