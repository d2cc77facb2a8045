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
import { RequestError } from "./errors";
import { createOnnxModel } from "./model/onnx-model";
import type { DllmModel } from "./model/types";
import { denoise } from "./sampler/denoise";
import { buildTrace, idsBeforeEos } from "./sampler/trace";
import type { RuleContext } from "./stop/context";
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
  if (!model) {
    const onnx = await createOnnxModel(bundle.modelPath, {
      provider: opts.provider ?? "auto",
      threads: opts.threads,
      probes: bundle.config.probes,
    });
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
  };
  return new BundleEngine(bundle, model, info, internals.createRule ?? createStopRule);
}

class BundleEngine implements Engine {
  /** Generations run one at a time: the model reuses its input buffers between forwards. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bundle: LoadedBundle,
    private readonly model: DllmModel,
    readonly info: EngineInfo,
    private readonly createRule: RuleFactory,
  ) {}

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
    const task = config.tasks[taskName];
    if (!task) throw new RequestError("task", `one of ${Object.keys(config.tasks).join(", ")}`, taskName);
    const inputText = req.raw ? req.prompt : task.template.split("{prompt}").join(req.prompt);
    const promptIds = tokenizer.encode(inputText);
    const genLength = req.genLength ?? config.generation.gen_length;
    const blockLength = req.blockLength ?? config.generation.block_length;
    const steps = req.steps ?? config.generation.steps;
    for (const [field, v] of Object.entries({ genLength, blockLength, steps })) {
      if (!Number.isInteger(v) || v < 1) throw new RequestError(field, "a positive integer", String(v));
    }
    checkBlockGeometry({ gen_length: genLength, block_length: blockLength, steps }, (field, expected, found) => {
      throw new RequestError(field === "block_length" ? "blockLength" : field, expected, String(found));
    });
    const temperature = req.temperature ?? 0;
    if (!(temperature >= 0)) throw new RequestError("temperature", "a number >= 0", String(req.temperature));

    const spec = req.stop ?? task.stop.rule;
    const userParams = req.params ?? {};
    const ctx: RuleContext = {
      metadata,
      probes: Object.values(config.probes),
      certificates: task.certificates ? { alphaHat: task.certificates.alphaHat, q: task.certificates.q } : null,
      defaults: task.stop.params,
    };
    const rule = this.createRule(spec, userParams, ctx);
    const run = await denoise(this.model, rule, {
      promptIds,
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
