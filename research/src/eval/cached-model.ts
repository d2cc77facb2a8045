/**
 * A memoizing model: the sampler is deterministic at temperature 0, so every run of every rule on one
 * item walks a tree of token states whose forwards can be shared. Keyed by the exact input ids; the
 * cached result is returned as is (the sampler and the rules only read it). Clear it between items.
 */
import type { DllmModel, ForwardRequest, ForwardResult } from "../../../server/src/public";

export class CachedModel implements DllmModel {
  private readonly cache = new Map<string, ForwardResult>();
  /** Forwards requested by the sampler vs actually computed by the inner model. */
  requested = 0;
  computed = 0;

  /** copy: copy results out of the inner model's buffers (not needed over a BatchingModel, whose rows are fresh). */
  constructor(
    private readonly inner: DllmModel,
    private readonly copy = true,
  ) {}

  get provider(): string {
    return this.inner.provider;
  }

  async forward(ids: Int32Array, request?: ForwardRequest): Promise<ForwardResult> {
    this.requested++;
    // The sampler mutates `ids` after the call: the key is taken now (with the rows asked for).
    const want = request?.want;
    const key = want ? `${ids.join(",")}@${want.start}:${want.end}` : ids.join(",");
    const hit = this.cache.get(key);
    if (hit) return hit;
    const res = await this.inner.forward(ids, request);
    // Copy out of ONNX Runtime's tensors so a later run cannot alias them.
    const kept: ForwardResult = this.copy
      ? {
          rowStart: res.rowStart,
          logits: res.logits.slice(),
          vocab: res.vocab,
          activations: new Map([...res.activations].map(([m, a]) => [m, { data: a.data.slice(), dim: a.dim }])),
        }
      : res;
    this.computed++;
    this.cache.set(key, kept);
    return kept;
  }

  clear(): void {
    this.cache.clear();
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await this.inner.dispose();
  }
}
