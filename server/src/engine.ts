/**
 * loadEngine: bundle + tokenizer + ONNX session + stop-rule registry behind the Engine interface
 * (engine-types.ts) used by the CLI, the daemon and the bench.
 */
import { resolve } from "node:path";
import type { ParamValue } from "../../protocol/lsp";
import type { Engine, EngineInfo, EngineOptions, GenerateRequest, GenerateResponse } from "./engine-types";
import { checkBlockGeometry } from "./bundle/bundle-json";
import { checkModelAgainstBundle, loadBundle, type LoadedBundle } from "./bundle/load";
import { defaultBundleDir } from "./bundle/locate";
import { checkMemoryFits, modelFootprint } from "./bundle/memory";
import { RequestError } from "./errors";
import { CACHE_MODES, KvCacheModel } from "./model/kv-cache-model";
import { createOnnxModel, supportedBackends } from "./model/onnx-model";
import { autoAccelerators, currentProviderEnv, providerReport } from "./model/providers";
import { PrefixKvCache, type PrefixCacheStats } from "./model/prefix-cache";
import { isCacheGraphModel, type DllmModel } from "./model/types";
import type { ContextTrace } from "../../protocol/trace";
import { boundPromptChars, DEFAULT_MAX_PROMPT_CHARS, fitContext, fitInfill } from "./context-limit";
import { denoise } from "./sampler/denoise";
import { buildTrace, idsBeforeEos } from "./sampler/trace";
import type { RuleContext } from "./stop/context";
import { readCommitPolicies } from "./bundle/commit-policies";
import type { CommitPolicyWeights } from "./stop/commit-policy";
import { createStopRule, listStopRules } from "./stop/registry";
import type { StopRule } from "./stop/rule";

export type RuleFactory = (spec: string, params: Record<string, ParamValue>, ctx: RuleContext) => StopRule;

/** Test seams: a fake model and/or rule factory in place of ONNX Runtime and the registry. */
export interface EngineInternals {
  model?: DllmModel;
  createRule?: RuleFactory;
}

export async function loadEngine(opts: EngineOptions = {}, internals: EngineInternals = {}): Promise<Engine> {
  const t0 = performance.now();
  const bundleDir = resolve(opts.bundleDir ?? defaultBundleDir());
  const bundle = loadBundle(bundleDir);
  let model = internals.model;
  const footprint = modelFootprint(bundleDir, bundle.config);
  const providerNotes: string[] = [];
  if (!model) {
    // Refuse before ORT allocates: a model larger than the available memory would be OOM-killed.
    checkMemoryFits(footprint);
    const onnx = await createOnnxModel(bundle.modelPath, {
      provider: opts.provider ?? "auto",
      threads: opts.threads ?? 1,
      probes: bundle.config.probes,
      shift: bundle.config.model.shift ?? false,
      padId: bundle.config.ids.pad,
      onFallback: (p, e) => providerNotes.push(`${p}: session failed (${e.message.split("\n")[0]})`),
    });
    if ((opts.provider ?? "auto") === "auto") providerNotes.unshift(...skippedByAuto(onnx.provider));
    // One forward on two masks: fills the widths ONNX metadata leaves symbolic, and warms the session up.
    const probe = await onnx.forward(new Int32Array([bundle.config.ids.mask, bundle.config.ids.mask]));
    const widths = new Map(onnx.info.outputWidths);
    widths.set("logits", probe.vocab);
    for (const [out, module] of Object.entries(bundle.config.probes)) {
      const a = probe.activations.get(module);
      if (a) widths.set(out, a.dim);
    }
    checkModelAgainstBundle(bundle, { outputNames: onnx.info.outputNames, widths });
    model = onnx;
  }
  const info: EngineInfo = {
    bundle: bundle.config.name,
    bundleDir,
    provider: model.provider,
    loadMs: performance.now() - t0,
    tasks: Object.keys(bundle.config.tasks),
    defaultTask: bundle.config.default_task,
    ...(providerNotes.length > 0 ? { providerNotes } : {}),
    modelResidentBytes: footprint.residentBytes,
    modelDtype: footprint.dtype,
    infill: bundle.config.infill != null,
    maxLen: bundle.config.model.max_len ?? null,
    maxCharsPerToken: bundle.tokenizer.maxCharsPerToken,
  };
  for (const [field, v] of Object.entries({ cache: opts.cache })) {
    if (v !== undefined && !(CACHE_MODES as readonly string[]).includes(v)) throw new RequestError(field, `one of ${CACHE_MODES.join(", ")}`, String(v));
  }
  return new BundleEngine(bundle, model, info, internals.createRule ?? createStopRule, opts);
}

/** Why `auto` did not run each accelerator it skipped before trying (providers.ts's report, this platform only). */
function skippedByAuto(running: string): string[] {
  const consider = autoAccelerators(process.platform, process.arch);
  return providerReport(currentProviderEnv(supportedBackends()))
    .filter((p) => consider.includes(p.provider) && p.provider !== running && p.usable === false)
    .map((p) => `${p.provider}: ${p.reason}`);
}

/** Default byte bound of the cross-request prompt K/V cache. */
export const DEFAULT_PROMPT_CACHE_BYTES = 64 * 1024 * 1024;

class BundleEngine implements Engine {
  /** Generations run one at a time: the model reuses its input buffers between forwards. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Prompt K/V across requests (cache modes prefix/dual on a cache graph). */
  private readonly prompts: PrefixKvCache | null;

  /** bundle.json commit_policies, read on the first generation (issue 21). */
  private commitPolicies: Record<string, CommitPolicyWeights> | undefined;
  constructor(
    private readonly bundle: LoadedBundle,
    private readonly model: DllmModel,
    readonly info: EngineInfo,
    private readonly createRule: RuleFactory,
    private readonly opts: EngineOptions = {},
  ) {
    const bytes = opts.promptCacheBytes ?? DEFAULT_PROMPT_CACHE_BYTES;
    this.prompts = bytes > 0 && isCacheGraphModel(model) ? new PrefixKvCache(bytes) : null;
  }

  /** Counters of the cross-request prompt cache (null without one). */
  promptCacheStats(): PrefixCacheStats | null {
    return this.prompts?.stats() ?? null;
  }

  generate(req: GenerateRequest): Promise<GenerateResponse> {
    const run = this.queue.then(
      () => this.generateNow(req),
      () => this.generateNow(req),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async generateNow(req: GenerateRequest): Promise<GenerateResponse> {
    const wall0 = performance.now();
    const { config, tokenizer, metadata } = this.bundle;
    const taskName = req.task ?? config.default_task;
    // Own keys only: "constructor" or "__proto__" must be an unknown task, not Object.prototype's.
    const task = Object.hasOwn(config.tasks, taskName) ? config.tasks[taskName] : undefined;
    if (!task) throw new RequestError("task", `one of ${Object.keys(config.tasks).join(", ")}`, taskName);
    const genLength = req.genLength ?? config.generation.gen_length;
    const blockLength = req.blockLength ?? config.generation.block_length;
    const steps = req.steps ?? config.generation.steps;
    for (const [field, v] of Object.entries({ genLength, blockLength, steps })) {
      if (!Number.isInteger(v) || v < 1) throw new RequestError(field, "a positive integer", String(v));
    }
    checkBlockGeometry({ gen_length: genLength, block_length: blockLength, steps }, (field, expected, found) => {
      throw new RequestError(field === "block_length" ? "blockLength" : field, expected, String(found));
    });
    const blockCausal = config.model.attention?.mode === "block-causal" ? config.model.attention.block_size : null;
    if (blockCausal !== null && blockLength !== blockCausal) {
      throw new RequestError("blockLength", `the model's block size ${blockCausal} (a block-causal model decodes its own blocks)`, String(blockLength));
    }
    const temperature = req.temperature ?? 0;
    if (!(temperature >= 0)) throw new RequestError("temperature", "a number >= 0", String(req.temperature));
    const maxLen = config.model.max_len ?? null;
    // Before any forward: a prompt past the model's learned positions must never reach ONNX Runtime.
    const encode = (t: string) => tokenizer.encode(t);
    // In characters first, before anything is tokenized (issue 22): refuse, or keep only the window.
    const overflow = req.overflow ?? "refuse";
    const maxPromptChars = req.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
    const template = req.raw ? "{prompt}" : (this.bundle.chat?.wrap(task.template) ?? task.template);
    const infillTemplate = req.suffix !== undefined ? (config.infill?.template ?? "") : null;
    const boundBase = { genLength, maxLen, maxCharsPerToken: tokenizer.maxCharsPerToken, maxPromptChars, overflow };
    let suffix = req.suffix;
    if (suffix !== undefined) {
      // The suffix keeps its first characters (the text right after the cursor).
      suffix = boundPromptChars({ ...boundBase, field: "suffix", prompt: suffix, extraChars: 0, keep: "start" });
    }
    const prompt = boundPromptChars({
      ...boundBase,
      prompt: req.prompt,
      extraChars: infillTemplate !== null ? infillTemplate.length + (overflow === "refuse" ? (suffix?.length ?? 0) : 0) : template.replace("{prompt}", "").length,
    });
    if (req.suffix !== undefined && !config.infill) {
      throw new RequestError("suffix", "a bundle whose bundle.json declares an infill template", `${config.name} has none`);
    }
    // Infill: the masks go between the prefix and the suffix (bundle.json infill.template).
    const { promptIds, droppedTokens, suffixIds } =
      req.suffix !== undefined && config.infill
        ? fitInfill({ template: config.infill.template, prefix: prompt, suffix: suffix ?? "", encode, genLength, maxLen, overflow })
        : {
            ...fitContext({
              // An instruct model's chat template wraps the task template (a user turn + the assistant header).
              template,
              prompt,
              encode,
              genLength,
              maxLen,
              overflow,
            }),
            suffixIds: undefined,
          };
    // Block-causal K/V of finished blocks are exact: the prefix cache is the default there (docs/kv-cache.md).
    if (blockCausal !== null && suffixIds && suffixIds.length > 0) {
      // Positions after the generated blocks are invisible to them: the suffix must sit in the prompt (FIM).
      throw new RequestError("suffix", "an infill template that puts {suffix} before {gen} (block-causal model)", config.infill?.template ?? "");
    }
    // The request, then the engine's (user's) setting, then the mode the bundle states it is fastest with
    // (block-causal bundles: prefix, whose cached K/V are exact).
    const cacheRequested = req.cache ?? this.opts.cache ?? config.generation.cache ?? (blockCausal ? "prefix" : "none");
    if (!(CACHE_MODES as readonly string[]).includes(cacheRequested)) {
      throw new RequestError("cache", `one of ${CACHE_MODES.join(", ")}`, String(cacheRequested));
    }
    const refreshEvery = req.cacheRefreshEvery !== undefined ? req.cacheRefreshEvery : (this.opts.cacheRefreshEvery ?? null);
    if (refreshEvery !== null && !(Number.isInteger(refreshEvery) && refreshEvery >= 1)) {
      throw new RequestError("cacheRefreshEvery", "an integer >= 1 (or null: refresh at block starts)", String(refreshEvery));
    }
    const graph = this.model;
    const cacheGraph = isCacheGraphModel(graph) ? graph : null;
    const cacheMode = cacheGraph ? cacheRequested : "none";
    const policy = { mode: cacheMode, refreshEvery, ...(blockCausal ? { blockSize: blockCausal, maskId: config.ids.mask } : {}) };
    const model = cacheGraph ? new KvCacheModel(cacheGraph, policy, this.prompts) : graph;
    const reused0 = this.prompts?.stats().reusedTokens ?? 0;

    const spec = req.stop ?? task.stop.rule;
    const userParams = req.params ?? {};
    const ctx: RuleContext = {
      metadata,
      probes: Object.values(config.probes),
      certificates: task.certificates ? { alphaHat: task.certificates.alphaHat, q: task.certificates.q } : null,
      defaults: task.stop.params,
      defaultsSpec: task.stop.rule,
      eosId: config.ids.eos,
      commitPolicies: (this.commitPolicies ??= readCommitPolicies(this.bundle.dir)),
    };
    const rule = this.createRule(spec, userParams, ctx);
    const run = await denoise(model, rule, {
      promptIds,
      ...(suffixIds ? { suffixIds } : {}),
      genLength,
      blockLength,
      steps,
      schedule: config.generation.schedule,
      maskId: config.ids.mask,
      eosId: config.ids.eos,
      temperature,
      seed: req.seed,
      signal: req.signal,
      onStep: req.onStep,
      ...(blockCausal
        ? { modelBlockSize: blockCausal, shift: config.model.shift ?? false, subBlockLength: config.generation.sub_block_length }
        : {}),
    });
    const text = tokenizer.decode(idsBeforeEos(run.outputIds, config.ids.eos));
    const params = effectiveParams(spec, task.stop.params, userParams);
    const trace = buildTrace(
      {
        bundle: config.name,
        provider: this.model.provider,
        rule: spec,
        params,
        task: req.raw ? null : taskName,
        promptIds,
        genLength,
        blockLength,
        steps,
      },
      run,
      text,
      performance.now() - wall0,
    );
    const context: ContextTrace = {
      maxLen,
      droppedTokens,
      cacheRequested,
      cacheMode,
      cacheRefreshEvery: refreshEvery,
      promptCacheTokens: (this.prompts?.stats().reusedTokens ?? 0) - reused0,
      unknownTokens: config.ids.unk === null ? 0 : promptIds.filter((id) => id === config.ids.unk).length,
    };
    if (cacheRequested !== cacheMode) context.note = "model.onnx takes no past K/V (not a cache graph): ran without a cache";
    trace.context = context;
    return { text, trace };
  }

  async dispose(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.model.dispose();
  }
}

/**
 * The parameters the rule actually runs with, for the trace: each named rule's declared defaults, then
 * the task's calibrated values that the rule accepts, then the user's (the registry's merge order).
 */
export function effectiveParams(
  spec: string,
  calibrated: Record<string, ParamValue>,
  user: Record<string, ParamValue>,
): Record<string, ParamValue> {
  const names = new Set(spec.split("+").map((s) => s.trim()));
  const out: Record<string, ParamValue> = {};
  for (const rule of listStopRules()) {
    if (!names.has(rule.name)) continue;
    for (const p of rule.params) out[p.name] = p.default;
  }
  for (const [k, v] of Object.entries(calibrated)) if (k in out) out[k] = v;
  return { ...out, ...user };
}
