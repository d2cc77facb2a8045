/**
 * Training data for the learned commit policy (issue 21, item 3): for each val item, full's output is
 * the target; the commit oracle (commit-oracle.ts) then decodes the item, and at every forward each
 * masked token contributes one row: its features (stop/commit-features.ts) and the label "the current
 * argmax equals full's token here" (the oracle's decision for that token). Writes JSONL rows
 * {task, item, y, f}; training/edit_dllm/commit_policy.py trains on them.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defaultBundleDir } from "../../../server/src/public";
import { loadEngine, type RuleFactory } from "../../../server/src/public";
import { CommitFeatures } from "../../../server/src/public";
import type { RuleContext } from "../../../server/src/public";
import { createStopRule } from "../../../server/src/public";
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../../server/src/public";
import type { TaskItem } from "../../../server/src/public";
import { CommitOracleRule } from "./commit-oracle";

const RECORDER_SPEC = "eval-policy-recorder";

/** The commit oracle, recording every masked token's features and label before each of its decisions. */
class PolicyRecorder implements StopRule {
  readonly name = RECORDER_SPEC;
  readonly polishSteps = 0;
  readonly rows: { y: number; f: number[] }[] = [];
  private readonly oracle: CommitOracleRule;
  constructor(
    private readonly target: readonly number[],
    private readonly features: CommitFeatures,
  ) {
    this.oracle = new CommitOracleRule(target);
  }
  beginBlock(block: BlockInfo): void {
    this.features.beginBlock(block);
    this.oracle.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const genStart = view.seqLen - this.target.length;
    const f = this.features.compute(view, this.name);
    view.masked.forEach((p, i) => this.rows.push({ y: view.x0[i] === this.target[p - genStart] ? 1 : 0, f: Array.from(f[i], (x) => Math.round(x * 1e6) / 1e6) }));
    return this.oracle.observe(view);
  }
  blockThresholds(): null {
    return null;
  }
}

export async function writeCommitPolicyData(o: { bundleDir?: string; threads?: number; items: TaskItem[]; out: string; onProgress?: (m: string) => void }): Promise<number> {
  let target: number[] = [];
  let recorder: PolicyRecorder | null = null;
  const factory: RuleFactory = (spec, params, ctx: RuleContext) => {
    if (spec !== RECORDER_SPEC) return createStopRule(spec, params, ctx);
    recorder = new PolicyRecorder(target, new CommitFeatures(ctx, RECORDER_SPEC));
    return recorder;
  };
  const engine = await loadEngine({ bundleDir: resolve(o.bundleDir ?? defaultBundleDir()), provider: "cpu", threads: o.threads }, { createRule: factory });
  const lines: string[] = [];
  try {
    for (const [n, item] of o.items.entries()) {
      const full = await engine.generate({ prompt: item.prompt, task: item.task, stop: "full" });
      target = full.trace.outputIds;
      await engine.generate({ prompt: item.prompt, task: item.task, stop: RECORDER_SPEC });
      const rec = recorder as PolicyRecorder | null;
      for (const r of rec?.rows ?? []) lines.push(JSON.stringify({ task: item.task, item: n, y: r.y, f: r.f }));
      if ((n + 1) % 50 === 0) o.onProgress?.(`${n + 1}/${o.items.length} items, ${lines.length} rows`);
    }
  } finally {
    await engine.dispose();
  }
  writeFileSync(o.out, lines.join("\n") + "\n");
  return lines.length;
}
