/**
 * The evaluation driver: per split, per item, one explorer (scripted runs through a memoizing model)
 * simulates every stop-step configuration exactly; commit rules run through the engine on the same
 * cached model. Accumulates per (split, task, configuration) the per-item correctness, forwards,
 * stop steps vs oracle steps, and the D_t series along the full run at every tau.
 */
import { resolve } from "node:path";
import { loadBundle } from "../bundle/load";
import { defaultBundleDir } from "../bundle/locate";
import { loadEngine, type RuleFactory } from "../engine";
import type { EngineOptions } from "../engine-types";
import { createOnnxModel } from "../model/onnx-model";
import { idsBeforeEos } from "../sampler/trace";
import { transferCounts } from "../sampler/schedule";
import { createStopRule } from "../stop/registry";
import type { StopRule } from "../stop/rule";
import { checkerFor, type TaskItem } from "../tasks/index";
import { CachedModel } from "./cached-model";
import { buildConfigs, type EvalConfig, type Family, type SweepGrid } from "./configs";
import { ItemExplorer, SCRIPTED_SPEC, type SimBlock } from "./explore";
import { ScriptedRecorder, type PlannedStop } from "./scripted";

/** Per (split, task, configuration): what the analysis needs, item by item and block by block. */
export interface ConfigAcc {
  correct: boolean[];
  forwards: number[];
  blocks: number;
  stops: number;
  /** Blocks whose stop equals the earliest possible step / blocks where one exists. */
  atEarliest: number;
  earliestDefined: number;
  /** Per block: the step the rule ended the block's regular steps at (stop or budget) and the oracle step. */
  stopSteps: number[];
  oracleSteps: number[];
}

/** D_t values along the full run: series ("tau=1", ..., "released") -> block index -> values. */
export interface DtAcc {
  values: Record<string, number[][]>;
  /** Steps per block index and series whose D_t was undefined. */
  undefinedSteps: Record<string, number[]>;
  steps: number[];
}

export interface SplitTaskAcc {
  items: number;
  configs: Map<string, ConfigAcc>;
  dt: DtAcc;
}

export interface SimulationCheck {
  config: string;
  compared: number;
  identical: number;
  mismatches: string[];
}

export interface EvalRun {
  bundle: string;
  bundleDir: string;
  provider: string;
  budget: number;
  numBlocks: number;
  blockLength: number;
  counts: number[];
  released: boolean;
  configs: EvalConfig[];
  /** acc[split][task] */
  acc: Record<string, Record<string, SplitTaskAcc>>;
  checks: SimulationCheck[];
  cost: { forwardsRequested: number; forwardsComputed: number; scriptedRuns: number; realRuns: number; wallMs: number };
}

export interface EvalOptions extends EngineOptions {
  splits: { name: string; items: TaskItem[] }[];
  /** Items per task per split (first N). */
  limit?: number;
  grid: SweepGrid;
  /** Rule families to sweep (full, oracle and fixed always run); null = all. */
  families?: ReadonlySet<Family> | null;
  /** Items per task per split on which simulated configs are re-run for real and compared. */
  checkItems?: number;
  onProgress?: (msg: string) => void;
}

const TRAJECTORY_EDIT = { tau: 1, omegaFirst: 1e9, omegaLater: 1e9, polishSteps: 0 };
const TRAJECTORY_RELEASED = { omegaFirst: 1e9, omegaLater: 1e9, polishSteps: 0 };
export const DT_TAUS_DEFAULT = [1, 0.3, 0.1, 0.03];

export async function runEval(opts: EvalOptions): Promise<EvalRun> {
  const wall0 = performance.now();
  const bundleDir = resolve(opts.bundleDir ?? defaultBundleDir());
  const bundle = loadBundle(bundleDir);
  const cfg = bundle.config;
  const onnx = await createOnnxModel(bundle.modelPath, { provider: opts.provider ?? "cpu", threads: opts.threads, probes: cfg.probes });
  const model = new CachedModel(onnx);

  let plan: (PlannedStop | null)[] = [];
  let lastScripted: ScriptedRecorder | null = null;
  let releasedAvailable = true;
  const factory: RuleFactory = (spec, params, ctx) => {
    if (spec !== SCRIPTED_SPEC) return createStopRule(spec, params, ctx);
    const edit = createStopRule("edit", TRAJECTORY_EDIT, ctx);
    let released: StopRule | null = null;
    try {
      released = createStopRule("edit-released", TRAJECTORY_RELEASED, ctx);
    } catch {
      releasedAvailable = false; // no U-bar in the metadata: the released rule cannot run on this bundle
    }
    lastScripted = new ScriptedRecorder(plan, edit, released);
    return lastScripted;
  };
  const engine = await loadEngine({ bundleDir, provider: opts.provider ?? "cpu", threads: opts.threads }, { model, createRule: factory });

  const gen = cfg.generation;
  const numBlocks = gen.gen_length / gen.block_length;
  const budget = gen.steps / numBlocks;
  const counts = transferCounts(gen.schedule, gen.block_length, budget);
  const eosId = cfg.ids.eos;
  const decode = (ids: number[]) => bundle.tokenizer.decode(idsBeforeEos(ids, eosId));

  const acc: EvalRun["acc"] = {};
  const configsByTask = new Map<string, EvalConfig[]>();
  const checks = new Map<string, SimulationCheck>();
  let scriptedRuns = 0;
  let realRuns = 0;
  let allConfigs: EvalConfig[] = [];

  try {
    // One probe run tells whether the released rule can run (U-bar present).
    for (const split of opts.splits) {
      const byTask = new Map<string, TaskItem[]>();
      for (const it of split.items) {
        if (!cfg.tasks[it.task] || !checkerFor(it.task)) continue;
        const list = byTask.get(it.task) ?? [];
        if (list.length < (opts.limit ?? Infinity)) list.push(it);
        byTask.set(it.task, list);
      }
      acc[split.name] = {};
      for (const [task, items] of byTask) {
        const check = checkerFor(task)!;
        const st: SplitTaskAcc = { items: 0, configs: new Map(), dt: { values: {}, undefinedSteps: {}, steps: [] } };
        acc[split.name][task] = st;
        const t0 = performance.now();
        for (const [n, item] of items.entries()) {
          model.clear();
          const explorer = new ItemExplorer({
            engine,
            arm: (p) => {
              plan = p;
              return () => lastScripted!;
            },
            prompt: item.prompt,
            task,
            numBlocks,
            blockLength: gen.block_length,
            eosId,
          });
          const fullTraj = await explorer.fullTrajectories();
          let configs = configsByTask.get(task);
          if (!configs) {
            configs = buildConfigs(opts.grid, counts, cfg.tasks[task].stop, releasedAvailable, opts.families ?? null);
            configsByTask.set(task, configs);
            if (configs.length > allConfigs.length) allConfigs = configs;
          }
          recordDt(st.dt, fullTraj, opts.grid.taus, releasedAvailable);
          for (const c of configs) {
            let correct: boolean;
            let forwards: number;
            let blocks: SimBlock[];
            if (c.policy) {
              const sim = await explorer.simulate(c.policy);
              correct = check(item, decode(sim.outputIds));
              forwards = sim.forwards;
              blocks = sim.blocks;
              if (n < (opts.checkItems ?? 0) && isChecked(c)) {
                const { trace } = await engine.generate({ prompt: item.prompt, task, stop: c.rule, params: c.params });
                realRuns++;
                const ch = checks.get(c.id) ?? { config: c.id, compared: 0, identical: 0, mismatches: [] };
                ch.compared++;
                const same = trace.outputIds.join(",") === sim.outputIds.join(",") && trace.totals.forwards === sim.forwards;
                if (same) ch.identical++;
                else if (ch.mismatches.length < 3) ch.mismatches.push(`${task} "${item.prompt}": forwards ${trace.totals.forwards} vs simulated ${sim.forwards}`);
                checks.set(c.id, ch);
              }
            } else {
              const { trace } = await engine.generate({ prompt: item.prompt, task, stop: c.rule, params: c.params });
              realRuns++;
              correct = check(item, trace.text);
              forwards = trace.totals.forwards;
              blocks = trace.blocks
                .filter((b) => b.endedBy !== "eos-skip")
                .map((b) => ({
                  index: b.index,
                  budget: b.budget,
                  stop: b.stopStep,
                  polish: 0,
                  forwards: b.stepsUsed,
                  // Commit rules end a block by committing everything: its "stop" is the last step.
                  oracle: explorer.knownTrajectory(trace.outputIds, b.index)?.oracle ?? -1,
                  onFullPath: false,
                }));
            }
            accumulate(st.configs, c, correct, forwards, blocks);
          }
          st.items++;
          scriptedRuns += explorer.scriptedRuns;
          if ((n + 1) % 10 === 0 || n + 1 === items.length) {
            opts.onProgress?.(
              `${split.name}/${task}: ${n + 1}/${items.length} items, ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
                `forwards computed ${model.computed} of ${model.requested} requested`,
            );
          }
        }
      }
    }
  } finally {
    await engine.dispose();
  }
  return {
    bundle: cfg.name,
    bundleDir,
    provider: onnx.provider,
    budget,
    numBlocks,
    blockLength: gen.block_length,
    counts,
    released: releasedAvailable,
    configs: allConfigs,
    acc,
    checks: [...checks.values()],
    cost: { forwardsRequested: model.requested, forwardsComputed: model.computed, scriptedRuns, realRuns, wallMs: performance.now() - wall0 },
  };
}

/** Simulated configurations re-run for real on the first items (one per family keeps it cheap). */
function isChecked(c: EvalConfig): boolean {
  return (
    c.family === "calibrated" ||
    c.family === "full" ||
    c.id === "fixed n=4 p=0" ||
    c.id === "fixed n=4 p=2" ||
    c.id === "edit tau=0.1 delta=0.01 omega=2" ||
    c.id === "edit tau=1 delta=0.05 omega=4" ||
    c.id === "edit-released delta=0.05"
  );
}

function accumulate(map: Map<string, ConfigAcc>, c: EvalConfig, correct: boolean, forwards: number, blocks: SimBlock[]): void {
  const a = map.get(c.id) ?? { correct: [], forwards: [], blocks: 0, stops: 0, atEarliest: 0, earliestDefined: 0, stopSteps: [], oracleSteps: [] };
  a.correct.push(correct);
  a.forwards.push(forwards);
  for (const b of blocks) {
    a.blocks++;
    if (b.stop !== null) a.stops++;
    const e = c.earliest?.(b.index) ?? null;
    if (e !== null) {
      a.earliestDefined++;
      if (b.stop === e) a.atEarliest++;
    }
    if (b.oracle > 0) {
      a.stopSteps.push(b.stop ?? (c.policy ? b.budget : b.forwards));
      a.oracleSteps.push(b.oracle);
    }
  }
  map.set(c.id, a);
}

function recordDt(dt: DtAcc, traj: { index: number; editKl(tau: number): (number | null)[]; releasedKl(): (number | null)[] }[], taus: number[], released: boolean): void {
  const series: [string, (t: (typeof traj)[number]) => (number | null)[]][] = taus.map((tau) => [`tau=${tau}`, (t) => t.editKl(tau)]);
  if (released) series.push(["released", (t) => t.releasedKl()]);
  for (const t of traj) {
    dt.steps[t.index] = (dt.steps[t.index] ?? 0) + t.editKl(1).length;
    for (const [name, get] of series) {
      const vals = (dt.values[name] ??= []);
      const und = (dt.undefinedSteps[name] ??= []);
      vals[t.index] ??= [];
      und[t.index] ??= 0;
      for (const d of get(t)) {
        if (d === null) und[t.index]++;
        else vals[t.index].push(d);
      }
    }
  }
}
