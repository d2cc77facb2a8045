/**
 * Training data for the learned commit policy (issue 21, item 3): for each val item, full's output is
 * the target; a driver then decodes the item, and at every forward each masked token contributes one
 * row: its features (stop/commit-features.ts) and the label "the current argmax equals full's token
 * here" (the commit oracle's decision for that token). The driver is the commit oracle
 * (commit-oracle.ts) by default; a rule spec (e.g. the learned policy itself) records the states that
 * rule reaches, the mistakes it makes included (DAgger: a policy trained only on the oracle's
 * trajectory never sees them). Writes JSONL rows {task, item, y, f, eoa?}; eoa = 1 marks the block's
 * first eos position (the end-of-answer network's rows). training/edit_dllm/commit_policy.py trains on them.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defaultBundleDir } from "../../../server/src/public";
import { loadEngine, type RuleFactory } from "../../../server/src/public";
import { CommitFeatures } from "../../../server/src/public";
import type { RuleContext } from "../../../server/src/public";
import { createStopRule } from "../../../server/src/public";
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../../server/src/public";
import { parseParamValue, scorerFor, type TaskItem } from "../../../server/src/public";
import type { ParamValue } from "../../../protocol/lsp";
import { CommitOracleRule } from "./commit-oracle";

const RECORDER_SPEC = "eval-policy-recorder";

/** A driver rule (the commit oracle by default), recording every masked token's features and label before each of its decisions. */
class PolicyRecorder implements StopRule {
  readonly name = RECORDER_SPEC;
  readonly polishSteps = 0;
  readonly rows: { y: number; f: number[]; eoa: boolean; pos: number; x0: number }[] = [];
  constructor(
    private readonly target: readonly number[],
    private readonly features: CommitFeatures,
    private readonly driver: StopRule,
  ) {}
  beginBlock(block: BlockInfo): void {
    this.features.beginBlock(block);
    this.driver.beginBlock(block);
  }
  observe(view: StepView): StepDecision {
    const genStart = view.seqLen - this.target.length;
    const f = this.features.compute(view, this.name);
    const e = this.features.firstEos(view);
    view.masked.forEach((p, i) =>
      this.rows.push({
        y: view.x0[i] === this.target[p - genStart] ? 1 : 0,
        f: Array.from(f[i], (x) => Math.round(x * 1e6) / 1e6),
        eoa: p === e,
        pos: p - genStart,
        x0: view.x0[i],
      }),
    );
    return this.driver.observe(view);
  }
  blockThresholds(): null {
    return null;
  }
}

/** A driver given as "rule key=value ..." (e.g. "learned threshold=0.7"); values as `--param` parses them. */
export function parseDriver(spec: string): { rule: string; params: Record<string, ParamValue> } {
  const [rule, ...kvs] = spec.trim().split(/\s+/);
  const params: Record<string, ParamValue> = {};
  for (const kv of kvs) {
    const m = /^([A-Za-z][\w-]*)=(.+)$/.exec(kv);
    if (!m) throw new Error(`--policy-driver: "${kv}" is not key=value (in "${spec}")`);
    params[m[1]] = parseParamValue(m[2]);
  }
  return { rule, params };
}

export async function writeCommitPolicyData(o: {
  bundleDir?: string;
  threads?: number;
  items: TaskItem[];
  out: string;
  /** A rule spec that drives the decode ("learned threshold=0.7"); default: the commit oracle. */
  driver?: string;
  /**
   * "full" (default): y = the argmax equals full's token. "outcome": where the driver's own decode ends
   * in a right answer (the task's checker), y = the argmax equals that decode's final token instead, so
   * a right answer other than full's (countdown accepts any equation reaching the target) is not
   * counted wrong.
   */
  label?: "full" | "outcome";
  onProgress?: (m: string) => void;
}): Promise<number> {
  let target: number[] = [];
  let recorder: PolicyRecorder | null = null;
  const driver = o.driver ? parseDriver(o.driver) : null;
  const factory: RuleFactory = (spec, params, ctx: RuleContext) => {
    if (spec !== RECORDER_SPEC) return createStopRule(spec, params, ctx);
    const rule = driver ? createStopRule(driver.rule, driver.params, ctx) : new CommitOracleRule(target);
    recorder = new PolicyRecorder(target, new CommitFeatures(ctx, RECORDER_SPEC), rule);
    return recorder;
  };
  const engine = await loadEngine({ bundleDir: resolve(o.bundleDir ?? defaultBundleDir()), provider: "cpu", threads: o.threads }, { createRule: factory });
  const lines: string[] = [];
  try {
    for (const [n, item] of o.items.entries()) {
      const full = await engine.generate({ prompt: item.prompt, task: item.task, stop: "full" });
      target = full.trace.outputIds;
      const own = await engine.generate({ prompt: item.prompt, task: item.task, stop: RECORDER_SPEC });
      const rec = recorder as PolicyRecorder | null;
      if (rec && o.label === "outcome" && scorerFor(item.task)(item, own.text)) {
        for (const r of rec.rows) r.y = r.x0 === own.trace.outputIds[r.pos] ? 1 : 0;
      }
      for (const r of rec?.rows ?? []) lines.push(JSON.stringify({ task: item.task, item: n, y: r.y, f: r.f, ...(r.eoa ? { eoa: 1 } : {}) }));
      if ((n + 1) % 50 === 0) o.onProgress?.(`${n + 1}/${o.items.length} items, ${lines.length} rows`);
    }
  } finally {
    await engine.dispose();
  }
  writeFileSync(o.out, lines.join("\n") + "\n");
  return lines.length;
}
