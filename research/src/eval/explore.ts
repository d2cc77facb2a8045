/**
 * Exact offline simulation of every "stop-step" rule (full, fixed, oracle, edit at any tau/delta/Omega,
 * edit-released at any delta/Omega, any polish) on one item, from a few real scripted runs.
 *
 * Why it is exact: at temperature 0 a block's trajectory is a function of the content of the earlier
 * blocks only, and a stop rule never changes the trajectory before its stop. So for each distinct
 * earlier content ("prefix") we record the block's full-budget trajectory once (S_t, Sim_s, the
 * released D_t, the argmax fill at every step); a polish-0 stop at t then yields the fill at t, and a
 * polish-p stop at t is run once per (prefix, t, p). All runs go through one CachedModel, so the
 * forwards that runs share are computed once.
 */
import type { Engine } from "../../../server/src/public";
import { oracleStopStep } from "../bench/recorder";
import { recomputeKl } from "./dt";
import type { ObservedBlock, PlannedStop, ScriptedRecorder } from "./scripted";

export const SCRIPTED_SPEC = "eval-scripted";

/** One block's full-budget trajectory given the content of the earlier blocks. */
export class BlockTrajectory {
  private readonly kl = new Map<number, (number | null)[]>();
  readonly oracle: number;
  readonly final: number[];
  constructor(readonly observed: ObservedBlock, final: number[]) {
    this.final = final;
    this.oracle = oracleStopStep(
      observed.steps.map((s) => s.prediction),
      final,
    );
  }
  get index(): number {
    return this.observed.index;
  }
  get budget(): number {
    return this.observed.budget;
  }
  get stepsUsed(): number {
    return this.observed.steps.length;
  }
  /** The paper rule's D_t series at temperature tau (recomputed from the recorded sims). */
  editKl(tau: number): (number | null)[] {
    let k = this.kl.get(tau);
    if (!k) {
      k = recomputeKl(this.observed.steps, tau);
      this.kl.set(tau, k);
    }
    return k;
  }
  releasedKl(): (number | null)[] {
    return this.observed.steps.map((s) => s.releasedKl);
  }
}

/** What a policy decides for one block from its trajectory: a planned stop or none. */
export type StopPolicy = (traj: BlockTrajectory) => PlannedStop | null;

export interface SimBlock {
  index: number;
  budget: number;
  stop: number | null;
  polish: number;
  forwards: number;
  oracle: number;
  /** True when the earlier blocks' content equals the full run's (the block sees full's trajectory). */
  onFullPath: boolean;
}

export interface SimOutcome {
  outputIds: number[];
  forwards: number;
  blocks: SimBlock[];
}

export interface ExplorerDeps {
  engine: Engine;
  /** Set the plan for the next scripted run; returns the recorder the engine's factory will build. */
  arm(plan: (PlannedStop | null)[]): () => ScriptedRecorder;
  prompt: string;
  task: string;
  numBlocks: number;
  blockLength: number;
  eosId: number;
}

export class ItemExplorer {
  private readonly trajectories = new Map<string, BlockTrajectory>();
  private readonly outcomes = new Map<string, { content: number[]; forwards: number }>();
  private fullKey: string[] = [];
  scriptedRuns = 0;

  constructor(private readonly d: ExplorerDeps) {}

  /** Content key of blocks [0, b) of a generation. */
  private key(ids: readonly number[], b: number): string {
    return `${b}:${ids.slice(0, b * this.d.blockLength).join(",")}`;
  }

  private async runPlan(plan: (PlannedStop | null)[]): Promise<void> {
    const recorder = this.d.arm(plan);
    const { trace } = await this.d.engine.generate({ prompt: this.d.prompt, task: this.d.task, stop: SCRIPTED_SPEC, params: {} });
    this.scriptedRuns++;
    const rec = recorder();
    const L = this.d.blockLength;
    for (const ob of rec.blocks) {
      const b = ob.index;
      const key = this.key(trace.outputIds, b);
      const content = trace.outputIds.slice(b * L, (b + 1) * L);
      const stop = plan[b];
      if (stop == null) {
        if (!this.trajectories.has(key)) this.trajectories.set(key, new BlockTrajectory(ob, content));
      } else if (stop.polish > 0) {
        const used = trace.blocks[b].stepsUsed;
        this.outcomes.set(`${key}|${stop.step}|${stop.polish}`, { content, forwards: used });
      }
    }
  }

  private async trajectory(key: string, plan: (PlannedStop | null)[]): Promise<BlockTrajectory> {
    if (!this.trajectories.has(key)) await this.runPlan(plan);
    const t = this.trajectories.get(key);
    if (!t) throw new Error(`eval: the scripted run for plan ${JSON.stringify(plan)} did not reach block state ${key.slice(0, 40)}…`);
    return t;
  }

  /** The full run's block keys (the "full path"); computed on first use. */
  private async fullPath(): Promise<string[]> {
    if (this.fullKey.length === 0) {
      const full = await this.simulate(() => null, false);
      const keys: string[] = [];
      for (let b = 0; b < full.blocks.length; b++) keys.push(this.key(full.outputIds, b));
      this.fullKey = keys;
    }
    return this.fullKey;
  }

  /** The full-budget trajectories along the full run (for D_t distributions). */
  async fullTrajectories(): Promise<BlockTrajectory[]> {
    const keys = await this.fullPath();
    return keys.map((k) => this.trajectories.get(k)!);
  }

  /** Trajectory of block b given the earlier content, when some run has recorded it. */
  knownTrajectory(ids: readonly number[], b: number): BlockTrajectory | undefined {
    return this.trajectories.get(this.key(ids, b));
  }

  async simulate(policy: StopPolicy, markFullPath = true): Promise<SimOutcome> {
    const { numBlocks, blockLength: L, eosId } = this.d;
    const fullKeys = markFullPath ? await this.fullPath() : [];
    const content: number[] = [];
    const plan: (PlannedStop | null)[] = [];
    const blocks: SimBlock[] = [];
    let forwards = 0;
    for (let b = 0; b < numBlocks; b++) {
      if (content.includes(eosId)) break;
      const key = this.key(content, b);
      const traj = await this.trajectory(key, plan);
      const stop = policy(traj);
      let blockContent: number[];
      let used: number;
      if (stop === null) {
        blockContent = traj.final;
        used = traj.stepsUsed;
      } else if (stop.polish === 0) {
        blockContent = traj.observed.steps[stop.step - 1].prediction;
        used = stop.step;
      } else {
        const ok = `${key}|${stop.step}|${stop.polish}`;
        if (!this.outcomes.has(ok)) await this.runPlan([...plan, stop]);
        const o = this.outcomes.get(ok)!;
        blockContent = o.content;
        used = o.forwards;
      }
      blocks.push({
        index: b,
        budget: traj.budget,
        stop: stop?.step ?? null,
        polish: stop?.polish ?? 0,
        forwards: used,
        oracle: traj.oracle,
        onFullPath: fullKeys[b] === key,
      });
      forwards += used;
      content.push(...blockContent);
      plan.push(stop);
    }
    while (content.length < numBlocks * L) content.push(eosId);
    return { outputIds: content, forwards, blocks };
  }
}
