/**
 * The evaluation driver: per split, per item, one explorer (scripted runs through a memoizing model)
 * simulates every stop-step configuration exactly; commit rules run through the engine on the same
 * cached model. Accumulates per (split, task, configuration) the per-item correctness, forwards,
 * stop steps vs oracle steps, and the D_t series along the full run at every tau.
 */
import { resolve } from "node:path";
import { loadBundle } from "../../../server/src/public";
import { defaultBundleDir } from "../../../server/src/public";
import { loadEngine, type RuleFactory } from "../../../server/src/public";
import type { Engine, EngineOptions } from "../../../server/src/public";
import { createOnnxModel } from "../../../server/src/public";
import { idsBeforeEos } from "../../../server/src/public";
import { transferCounts } from "../../../server/src/public";
import { createStopRule } from "../../../server/src/public";
import type { StopRule } from "../../../server/src/public";
import { scorerFor, type TaskItem } from "../../../server/src/public";
import { BatchingModel } from "./batching-model";
import { CachedModel } from "./cached-model";
import { COMMIT_ORACLE_SPEC, CommitOracleRule } from "./commit-oracle";
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
  /** Per item: the output ids equal full's (the commit oracle's target; agreement for every rule). */
  sameAsFull: boolean[];
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
  /** Concurrent items (each on its own engine and forward cache) whose forwards are batched (default 8). */
  lanes?: number;
  /** Stop starting new items after this many ms (round-robin order keeps the tasks balanced). */
  timeBudgetMs?: number;
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
  // padId: a cache graph takes position ids from the caller, restarted after a row's left padding, so left-padded
  // batched rows need it to equal single sequences (as the engine passes it).
  const onnx = await createOnnxModel(bundle.modelPath, {
    provider: opts.provider ?? "cpu",
    threads: opts.threads,
    probes: cfg.probes,
    shift: cfg.model.shift ?? false,
    padId: cfg.ids.pad,
  });
  const lanesN = Math.max(1, opts.lanes ?? 8);
  const shared = lanesN > 1 ? new BatchingModel(onnx, cfg.ids.pad) : onnx;
  let releasedAvailable = true;

  /** One lane = one engine on its own forward cache; lanes run items concurrently and share batches. */
  interface Lane {
    engine: Engine;
    model: CachedModel;
    plan: (PlannedStop | null)[];
    lastScripted: ScriptedRecorder | null;
    /** Full's generated ids for the current item (the commit oracle's target). */
    fullOutput: number[];
  }
  const lanes: Lane[] = [];
  for (let i = 0; i < lanesN; i++) {
    const model = new CachedModel(shared, lanesN === 1);
    const lane: Lane = { engine: null as unknown as Engine, model, plan: [], lastScripted: null, fullOutput: [] };
    const factory: RuleFactory = (spec, params, ctx) => {
      if (spec === COMMIT_ORACLE_SPEC) return new CommitOracleRule(lane.fullOutput);
      if (spec !== SCRIPTED_SPEC) return createStopRule(spec, params, ctx);
      const edit = createStopRule("edit", TRAJECTORY_EDIT, ctx);
      let released: StopRule | null = null;
      try {
        released = createStopRule("edit-released", TRAJECTORY_RELEASED, ctx);
      } catch {
        releasedAvailable = false; // no U-bar in the metadata: the released rule cannot run on this bundle
      }
      lane.lastScripted = new ScriptedRecorder(lane.plan, edit, released);
      return lane.lastScripted;
    };
    lane.engine = await loadEngine({ bundleDir, provider: opts.provider ?? "cpu", threads: opts.threads }, { model, createRule: factory });
    lanes.push(lane);
  }

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

  // Work in round-robin order (item 0 of every split and task, then item 1, ...), so a time budget
  // that stops early leaves every task with the same number of items.
  interface Work {
    split: string;
    task: string;
    index: number;
    item: TaskItem;
    st: SplitTaskAcc;
  }
  const queues: Work[][] = [];
  for (const split of opts.splits) {
    const byTask = new Map<string, TaskItem[]>();
    for (const it of split.items) {
      if (!cfg.tasks[it.task]) continue;
      const list = byTask.get(it.task) ?? [];
      if (list.length < (opts.limit ?? Infinity)) list.push(it);
      byTask.set(it.task, list);
    }
    acc[split.name] = {};
    for (const [task, items] of byTask) {
      const st: SplitTaskAcc = { items: 0, configs: new Map(), dt: { values: {}, undefinedSteps: {}, steps: [] } };
      acc[split.name][task] = st;
      queues.push(items.map((item, index) => ({ split: split.name, task, index, item, st })));
    }
  }
  const work: Work[] = [];
  for (let i = 0; queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length) work.push(q[i]);
  const total = work.length;
  let next = 0;
  let done = 0;
  let stoppedEarly = false;
  const deadline = opts.timeBudgetMs ? wall0 + opts.timeBudgetMs : Infinity;

  const runItem = async (lane: Lane, w: Work): Promise<void> => {
    const { item, task, st, index: n } = w;
    const check = scorerFor(task);
    lane.model.clear();
    const explorer = new ItemExplorer({
      engine: lane.engine,
      arm: (p) => {
        lane.plan = p;
        return () => lane.lastScripted!;
      },
      prompt: item.prompt,
      task,
      numBlocks,
      blockLength: gen.block_length,
      eosId,
    });
    const fullTraj = await explorer.fullTrajectories();
    const fullOut = (await explorer.simulate(() => null, false)).outputIds;
    lane.fullOutput = fullOut;
    const sameAsFull = (ids: readonly number[]) => ids.length === fullOut.length && ids.every((x, i) => x === fullOut[i]);
    let configs = configsByTask.get(task);
    if (!configs) {
      configs = buildConfigs(opts.grid, counts, cfg.tasks[task].stop, releasedAvailable, opts.families ?? null);
      configsByTask.set(task, configs);
      if (configs.length > allConfigs.length) allConfigs = configs;
    }
    const results: { c: EvalConfig; correct: boolean; forwards: number; blocks: SimBlock[]; same: boolean }[] = [];
    for (const c of configs) {
      if (c.policy) {
        const sim = await explorer.simulate(c.policy);
        results.push({ c, correct: check(item, decode(sim.outputIds)), forwards: sim.forwards, blocks: sim.blocks, same: sameAsFull(sim.outputIds) });
        if (n < (opts.checkItems ?? 0) && isChecked(c)) {
          const { trace } = await lane.engine.generate({ prompt: item.prompt, task, stop: c.rule, params: c.params });
          realRuns++;
          const ch = checks.get(c.id) ?? { config: c.id, compared: 0, identical: 0, mismatches: [] };
          ch.compared++;
          const same = trace.outputIds.join(",") === sim.outputIds.join(",") && trace.totals.forwards === sim.forwards;
          if (same) ch.identical++;
          else if (ch.mismatches.length < 3) ch.mismatches.push(`${task} "${item.prompt}": forwards ${trace.totals.forwards} vs simulated ${sim.forwards}`);
          checks.set(c.id, ch);
        }
      } else {
        const { trace } = await lane.engine.generate({ prompt: item.prompt, task, stop: c.rule, params: c.params });
        realRuns++;
        const blocks = trace.blocks
          .filter((b) => b.endedBy !== "eos-skip")
          .map((b) => ({
            index: b.index,
            budget: b.budget,
            stop: b.stopStep,
            polish: 0,
            forwards: b.stepsUsed,
            // A commit rule ends a block by committing everything: its "stop" is its last step.
            oracle: explorer.knownTrajectory(trace.outputIds, b.index)?.oracle ?? -1,
            onFullPath: false,
          }));
        results.push({ c, correct: check(item, trace.text), forwards: trace.totals.forwards, blocks, same: sameAsFull(trace.outputIds) });
      }
    }
    // All of the item's results land at its index in one synchronous pass: paired across configurations.
    recordDt(st.dt, fullTraj, opts.grid.taus, releasedAvailable);
    for (const r of results) accumulate(st.configs, r.c, n, r.correct, r.forwards, r.blocks, r.same);
    st.items++;
    scriptedRuns += explorer.scriptedRuns;
    lane.model.clear();
  };

  const t0 = performance.now();
  const laneLoop = async (lane: Lane): Promise<void> => {
    while (next < total) {
      if (performance.now() > deadline) {
        stoppedEarly = true;
        return;
      }
      const w = work[next++];
      await runItem(lane, w);
      done++;
      if (done % 20 === 0 || done === total) {
        const computed = lanes.reduce((a, l) => a + l.model.computed, 0);
        const requested = lanes.reduce((a, l) => a + l.model.requested, 0);
        opts.onProgress?.(`${done}/${total} items, ${((performance.now() - t0) / 1000).toFixed(0)} s, forwards computed ${computed} of ${requested} requested`);
      }
    }
  };
  try {
    await Promise.all(lanes.map(laneLoop));
  } finally {
    for (const l of lanes) await l.engine.dispose().catch(() => undefined);
  }
  // Items still in flight when the budget ran out finished; items never started are left out.
  // Trim every (split, task) to the items all configurations saw (indices are dense from 0).
  for (const tasks of Object.values(acc)) for (const st of Object.values(tasks)) compact(st);
  if (stoppedEarly) opts.onProgress?.(`time budget reached: ${done}/${total} items evaluated`);
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
    cost: {
      forwardsRequested: lanes.reduce((a, l) => a + l.model.requested, 0),
      forwardsComputed: lanes.reduce((a, l) => a + l.model.computed, 0),
      scriptedRuns,
      realRuns,
      wallMs: performance.now() - wall0,
    },
  };
}

/** Drop the holes that items never evaluated (time budget) leave in the per-item arrays. */
function compact(st: SplitTaskAcc): void {
  for (const a of st.configs.values()) {
    const keep = a.correct.map((_, i) => i).filter((i) => a.correct[i] !== undefined);
    a.correct = keep.map((i) => a.correct[i]);
    a.forwards = keep.map((i) => a.forwards[i]);
    a.sameAsFull = keep.map((i) => a.sameAsFull[i]);
  }
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

function accumulate(map: Map<string, ConfigAcc>, c: EvalConfig, index: number, correct: boolean, forwards: number, blocks: SimBlock[], same: boolean): void {
  const a = map.get(c.id) ?? { correct: [], forwards: [], sameAsFull: [], blocks: 0, stops: 0, atEarliest: 0, earliestDefined: 0, stopSteps: [], oracleSteps: [] };
  a.correct[index] = correct;
  a.forwards[index] = forwards;
  a.sameAsFull[index] = same;
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
