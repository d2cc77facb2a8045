/** Test doubles: a model with hand-set logits and the trivial rules the sampler tests need. */
import type { DllmModel, ForwardResult } from "../../server/src/model/types";
import type { BlockInfo, StepDecision, StepView, StopRule } from "../../server/src/stop/rule";

/** Per position: the token it prefers and that token's logit (all other logits are 0). */
export interface Preference {
  token: number;
  logit: number;
}

/**
 * A fake model over a vocab of `vocab` ids. `prefs(call, ids)` gives each position's preference for
 * forward number `call` (0-based); positions it omits get all-zero logits (argmax id 0 by tie rule).
 */
export class FakeModel implements DllmModel {
  readonly provider = "fake";
  calls = 0;
  inputs: Int32Array[] = [];
  constructor(
    readonly vocab: number,
    private readonly prefs: (call: number, ids: Int32Array) => Map<number, Preference>,
    private readonly beforeReturn?: (call: number) => Promise<void> | void,
  ) {}
  async forward(ids: Int32Array): Promise<ForwardResult> {
    const call = this.calls++;
    this.inputs.push(ids.slice());
    const logits = new Float32Array(ids.length * this.vocab);
    for (const [pos, p] of this.prefs(call, ids)) logits[pos * this.vocab + p.token] = p.logit;
    await this.beforeReturn?.(call);
    return { rowStart: 0, logits, vocab: this.vocab, activations: new Map() };
  }
  async dispose(): Promise<void> {}
}

/** Runs every block to its budget (the `full` baseline), recording what it observed. */
export class FullRule implements StopRule {
  readonly name: string = "full";
  readonly polishSteps: number = 0;
  views: { step: number; visible: number[]; masked: number[]; x0: number[]; confidence: number[] }[] = [];
  blocks: BlockInfo[] = [];
  beginBlock(block: BlockInfo): void {
    this.blocks.push(block);
  }
  observe(v: StepView): StepDecision {
    this.views.push({ step: v.step, visible: [...v.visible], masked: [...v.masked], x0: [...v.x0], confidence: [...v.confidence] });
    return { stop: false };
  }
  blockThresholds(): { delta: number; omega: number } | null {
    return null;
  }
}

/** Stops at a fixed step of every block, with a given polish count; optionally commits positions early. */
export class StopAtRule extends FullRule {
  override readonly name = "stop-at";
  constructor(
    private readonly at: number,
    override readonly polishSteps: number = 0,
    private readonly early: (step: number) => number[] = () => [],
  ) {
    super();
  }
  override observe(v: StepView): StepDecision {
    super.observe(v);
    return { stop: v.step === this.at, commitEarly: this.early(v.step), kl: 0.5, counter: v.step, margin: 0.25, sims: v.visible.map(() => 1) };
  }
  override blockThresholds() {
    return { delta: 0.1, omega: 2 };
  }
  certificate() {
    return { thm2: true, thm4: this.at === 1, cor6: false, margin: 0.25, delta: 0.1, omega: 2, alphaHat: 0.8, q: 0.05 };
  }
}
