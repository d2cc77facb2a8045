/**
 * The daemon's state, independent of the JSON-RPC connection: one engine (loaded once, reloaded when
 * the bundle or provider setting changes), a one-at-a-time generation queue with per-document
 * supersession, the completion cache, the status (loading / ready / generating / slow / failed) and
 * counters. The connection layer (server.ts) only translates LSP messages to these calls.
 */
import type { Engine, EngineOptions, GenerateRequest } from "../engine-types";
import type { DaemonCounters, DaemonSettings, DaemonState, GenerateParams, GenerateResult, InlineOutcome, StatusResult } from "../../../protocol/lsp";
import type { StepEvent } from "../../../protocol/trace";
import { CompletionCache, type CompletionKey } from "./cache";
import { EngineUnavailableError, CancelledError, SupersededError } from "./errors";
import { GenerationQueue } from "./queue";
import { readBundleInfo, type BundleInfo } from "./bundle-info";
import { CODE_PROMPT_CHARS, codeTaskAnswer, codeTaskPrompt, documentWindow, INFILL_CHARS } from "./inline-prompt";
// Completion UX hooks (issue 13): confidence gate, suffix de-duplication, the reason nothing was shown.
import { DEFAULT_GATE, gate, type GateSettings } from "./inline-gate";
import { failureReason, outcomeLogLine } from "./inline-outcome";
import { dedupSuffix } from "./suffix-dedup";
import { listStopRules } from "../stop/registry";
import { boundPromptChars, DEFAULT_MAX_PROMPT_CHARS } from "../context-limit";

/** Inline completions use the bundle's `code` task, else its default task. */
function inlineTaskOf(engine: Engine): string {
  return engine.info.tasks.includes("code") ? "code" : engine.info.defaultTask;
}

export type LoadEngine = (opts: EngineOptions) => Promise<Engine>;

export interface DaemonCoreOptions {
  loadEngine: LoadEngine;
  /** Settings before the client sends any (command line, initializationOptions). */
  settings?: DaemonSettings;
  log?: (message: string) => void;
  onStatus?: (status: StatusResult) => void;
  /** A generation running longer than this turns the status to "slow" (Tabby-style hint). */
  slowMs?: number;
  cacheSize?: number;
  /** Characters of the document before the cursor sent to the model (capped by the model's context). */
  prefixChars?: number;
  /** Characters after the cursor, used only by tasks whose template has a {suffix} slot. */
  suffixChars?: number;
}

export interface CompletionRequest {
  uri: string;
  /** Document text before / after the cursor (whole; the core cuts the windows). */
  before: string;
  after: string;
  signal?: AbortSignal;
}

export interface CompletionAnswer {
  text: string;
  source: "model" | "exact" | "typed-along";
  /** Why nothing (or less) is shown; the gate's statistic when it ran. */
  reason?: string;
  confidence?: number | null;
}

/** Tokens the template and a little slack take from the model context besides prompt and output. */
const CONTEXT_SLACK = 4;

export class DaemonCore {
  private settingsNow: DaemonSettings;
  private engine: Engine | null = null;
  private bundleInfo: BundleInfo | null = null;
  private loading: Promise<Engine> | null = null;
  private loadError: Error | null = null;
  /** The engine gave up after loading (Engine.onGaveUp): `failed` with this cause until a reload. */
  private engineFailure: Error | null = null;
  private markLoadStarted: () => void = () => {};
  private readonly loadStarted = new Promise<void>((resolve) => (this.markLoadStarted = resolve));
  /** True from reload() until its load settles (the old engine may still finish a step meanwhile). */
  private reloading = false;
  private cache: CompletionCache | null = null;
  private readonly queue = new GenerationQueue();
  private slow = false;
  private slowTimer: NodeJS.Timeout | null = null;
  private lastStatus = "";
  private lastCompletion: InlineOutcome | null = null;
  private disposed = false;
  readonly counters: DaemonCounters = {
    generations: 0,
    forwards: 0,
    cacheHits: 0,
    typedAlongHits: 0,
    cacheMisses: 0,
    superseded: 0,
    cancelled: 0,
    errors: 0,
  };

  constructor(private readonly opts: DaemonCoreOptions) {
    this.settingsNow = { ...(opts.settings ?? {}) };
    this.queue.onChange(() => this.queueChanged());
  }

  get settings(): Readonly<DaemonSettings> {
    return this.settingsNow;
  }

  /** True once dispose() ran (the client sent `shutdown`). */
  get isDisposed(): boolean {
    return this.disposed;
  }

  get isLoaded(): boolean {
    return this.engine !== null;
  }

  /** Loads the engine with the current settings (once; later calls return the same load). */
  load(): Promise<Engine> {
    if (this.engine) return Promise.resolve(this.engine);
    if (!this.loading) this.loading = this.startLoad();
    this.markLoadStarted();
    return this.loading;
  }

  /**
   * Applies new settings. Stop rule, params and lengths take effect with the next request; a new
   * bundle path or provider needs a reload, which the caller starts with `reload()` (returns true).
   */
  applySettings(next: DaemonSettings): boolean {
    const prev = this.settingsNow;
    this.settingsNow = { ...next };
    return prev.bundlePath !== next.bundlePath || prev.executionProvider !== next.executionProvider || prev.threads !== next.threads;
  }

  /** Disposes the engine after the running generation and loads it again with the current settings. */
  reload(): Promise<Engine> {
    this.queue.abortAll(new CancelledError("generation (the model is being reloaded)"));
    this.reloading = true;
    this.markLoadStarted();
    const done = this.queue.enqueue(async () => {
      const old = this.engine;
      this.engine = null;
      this.cache = null;
      this.bundleInfo = null;
      if (old) await old.dispose();
      return this.startLoad();
    });
    this.loading = done;
    const settle = () => {
      if (this.loading === done) this.reloading = false;
      this.emitStatus();
    };
    done.then(settle, settle);
    this.emitStatus();
    return done;
  }

  /** The bundle's default forward budget (bundle.json generation.steps), once loaded. */
  defaultSteps(): number | null {
    return this.bundleInfo?.steps ?? null;
  }

  status(): StatusResult {
    const info = this.engine?.info;
    const s: StatusResult = {
      state: this.state(),
      bundle: info?.bundle ?? null,
      provider: info?.provider ?? null,
      loadMs: info?.loadMs ?? null,
      queueLength: this.queue.length,
      counters: { ...this.counters },
    };
    if (info) Object.assign(s, { tasks: info.tasks, defaultTask: info.defaultTask, rules: listStopRules().map((r) => r.name) });
    if (info?.modelResidentBytes !== undefined) Object.assign(s, { modelResidentBytes: info.modelResidentBytes, modelDtype: info.modelDtype });
    if (info?.providerNotes) s.providerNotes = info.providerNotes;
    if (this.lastCompletion) s.lastCompletion = this.lastCompletion;
    if (this.settingsNow.executionProvider) s.requestedProvider = this.settingsNow.executionProvider;
    const failure = this.failure();
    if (failure) s.message = failure.message;
    else if (this.slow) s.message = "the current generation is taking longer than expected";
    return s;
  }

  /** `edit/generate`: request params first, then the settings. */
  async generate(p: GenerateParams, opts: { signal?: AbortSignal; onStep?: (e: StepEvent) => void } = {}): Promise<GenerateResult> {
    await this.ready();
    const fromSettings = p.stop === undefined;
    const req: GenerateRequest = {
      ...this.lengths(),
      prompt: p.prompt,
      ...(p.task !== undefined ? { task: p.task } : {}),
      ...(fromSettings ? this.settingsRule() : { stop: p.stop }),
    };
    // Request params win over the settings' params (which belong to the settings' rule).
    const params = { ...(fromSettings ? this.settingsNow.stopParams : {}), ...p.params };
    if (Object.keys(params).length) req.params = params;
    if (opts.onStep) req.onStep = opts.onStep;
    req.maxPromptChars = this.settingsNow.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS;
    this.checkPromptChars(req);
    const res = await this.run(req, {}, opts.signal);
    return { text: res.text, trace: res.trace };
  }

  /**
   * The prompt's size in characters against the maximum prompt size and the model's window, here on
   * the main thread, so a refused prompt is neither copied to the inference worker nor tokenized
   * (issue 22). The template's characters count too; a chat template only adds more, so leaving it
   * out keeps the token count a lower bound.
   */
  private checkPromptChars(req: GenerateRequest): void {
    const info = this.requireEngine().info;
    const templates = this.bundleInfo?.templates ?? {};
    const task = req.task ?? info.defaultTask;
    // Own keys only ("constructor" is an unknown task, answered -32602 by the engine, not a template).
    const template = Object.hasOwn(templates, task) ? templates[task]! : "{prompt}";
    boundPromptChars({
      prompt: req.prompt,
      extraChars: req.raw ? 0 : template.replace("{prompt}", "").length,
      genLength: req.genLength ?? this.bundleInfo?.genLength ?? 0,
      maxLen: info.maxLen ?? null,
      maxCharsPerToken: info.maxCharsPerToken ?? null,
      maxPromptChars: req.maxPromptChars ?? DEFAULT_MAX_PROMPT_CHARS,
      overflow: "refuse",
    });
  }

  /** Inline completion at a cursor, de-duplicated against the text after it; the outcome is reported (issue 13). */
  async complete(r: CompletionRequest): Promise<CompletionAnswer> {
    const t0 = performance.now();
    try {
      const a = await this.completeGated(r);
      const text = dedupSuffix(a.text, r.after);
      const reason = a.reason ?? (a.text && !text ? "the text after the cursor already holds the completion" : !text ? "the model answered nothing" : undefined);
      this.noteCompletion({ shown: text !== "", ...(reason ? { reason } : {}), confidence: a.confidence ?? null, source: a.source, ms: performance.now() - t0 });
      return { ...a, text };
    } catch (e) {
      this.noteCompletion({ shown: false, reason: failureReason(e), ms: performance.now() - t0 });
      throw e;
    }
  }

  private noteCompletion(o: InlineOutcome): void {
    this.lastCompletion = o;
    const line = outcomeLogLine(o);
    if (line) this.opts.log?.(line);
    this.emitStatus();
  }

  private gateSettings(): GateSettings {
    return {
      threshold: this.settingsNow.inlineMinConfidence ?? DEFAULT_GATE.threshold,
      statistic: this.settingsNow.inlineConfidenceStatistic ?? DEFAULT_GATE.statistic,
    };
  }

  /** Cache first, then the model with the `code` task (or the default task), through the confidence gate. */
  private async completeGated(r: CompletionRequest): Promise<CompletionAnswer> {
    await this.ready();
    const engine = this.requireEngine();
    const cache = this.requireCache();
    const task = inlineTaskOf(engine);
    const template = this.bundleInfo?.templates[task];
    const usesSuffix = template?.includes("{suffix}") ?? false;
    // A bundle that infills gets prefix AND suffix from the document; the engine fits them to max_len (issue 11).
    const infill = engine.info.infill === true ? documentWindow(r.before, r.after, { maxChars: this.opts.prefixChars ?? INFILL_CHARS, suffixShare: 0.25 }) : null;
    const prefix = infill ? infill.prefix : task === "code" ? codeTaskPrompt(r.before) : r.before.slice(-this.prefixWindow(template));
    const suffix = infill ? infill.suffix : usesSuffix ? r.after.slice(0, this.opts.suffixChars ?? 32) : "";
    if (!prefix.trim()) return { text: "", source: "model", reason: "window too short (no text before the cursor)" };
    const key: CompletionKey = { prefix, suffix, settings: this.settingsKey(task) };
    const hit = cache.get(key);
    if (hit) {
      if (hit.kind === "exact") this.counters.cacheHits++;
      else this.counters.typedAlongHits++;
      // A cache hit still ends any older generation for this document: its answer is stale now.
      this.queue.abortKey(r.uri, new SupersededError(r.uri));
      this.emitStatus();
      // A hidden answer comes back from the cache hidden for the same reason (not "answered nothing").
      return { text: hit.text, source: hit.kind, ...(hit.hiddenReason ? { reason: `${hit.hiddenReason}, cached` } : {}) };
    }
    this.counters.cacheMisses++;
    // A completion never fails on length: the engine drops prompt tokens from the left to fit max_len (issue 11).
    const req: GenerateRequest = { ...this.lengths(), ...this.settingsRule(), task, prompt: prefix, overflow: "truncate" };
    if (this.settingsNow.stopParams) req.params = { ...this.settingsNow.stopParams };
    if (infill) req.suffix = suffix;
    else if (usesSuffix && template) {
      // The engine fills only {prompt}; a suffix-aware template is applied here and sent raw.
      req.prompt = template.split("{prompt}").join(prefix).split("{suffix}").join(suffix);
      req.raw = true;
    }
    const res = await this.run(req, { supersedeKey: r.uri }, r.signal);
    const answer = task === "code" ? codeTaskAnswer(res.text) : res.text;
    const verdict = gate(res.trace, answer, this.gateSettings());
    const text = verdict.show ? answer : "";
    // Only cache answers of the engine the key was built for.
    if (this.cache === cache) cache.set(key, text, verdict.show ? undefined : verdict.reason);
    return { text, source: "model", confidence: verdict.confidence, ...(verdict.show ? {} : { reason: verdict.reason }) };
  }

  /** Abandons pending work for a closed document. */
  forget(uri: string): void {
    this.queue.abortKey(uri, new SupersededError(uri));
  }

  /**
   * Aborts every generation and releases the engine; every call returns the same promise, which
   * settles once the engine has let go of its session (shutdown and exit both wait for it, issue 22).
   */
  dispose(): Promise<void> {
    if (this.disposal) return this.disposal;
    this.disposed = true;
    this.queue.abortAll(new CancelledError("generation (the daemon is shutting down)"));
    this.clearSlow();
    const e = this.engine;
    this.engine = null;
    const loading = this.loading;
    this.disposal = e ? e.dispose() : loading ? loading.then((x) => x.dispose(), () => undefined) : Promise.resolve();
    return this.disposal;
  }

  private disposal: Promise<void> | null = null;

  private async run(req: GenerateRequest, jobOpts: { supersedeKey?: string }, signal?: AbortSignal) {
    try {
      const res = await this.queue.enqueue(
        (jobSignal) => {
          const engine = this.requireEngine();
          this.startSlowTimer();
          return engine.generate({ ...req, signal: jobSignal }).finally(() => this.clearSlow());
        },
        { ...jobOpts, ...(signal ? { signal } : {}) },
      );
      this.counters.generations++;
      this.counters.forwards += res.trace.totals.forwards;
      return res;
    } catch (e) {
      if (e instanceof SupersededError) this.counters.superseded++;
      else if (e instanceof CancelledError) this.counters.cancelled++;
      else this.counters.errors++;
      throw e;
    } finally {
      this.emitStatus();
    }
  }

  private async startLoad(): Promise<Engine> {
    this.loadError = null;
    this.engineFailure = null;
    this.emitStatus();
    const s = this.settingsNow;
    const engineOpts: EngineOptions = {};
    if (s.bundlePath) engineOpts.bundleDir = s.bundlePath;
    if (s.executionProvider) engineOpts.provider = s.executionProvider;
    if (s.threads) engineOpts.threads = s.threads;
    try {
      const engine = await this.opts.loadEngine(engineOpts);
      if (this.disposed) {
        await engine.dispose();
        throw new EngineUnavailableError("the daemon shut down while the model was loading");
      }
      this.engine = engine;
      this.engineFailure = null;
      engine.onGaveUp?.((cause) => {
        if (this.engine !== engine) return;
        this.engineFailure = cause;
        this.opts.log?.(`the model is unavailable: ${cause.message}`);
        this.emitStatus();
      });
      this.bundleInfo = readBundleInfo(engine.info.bundleDir);
      const task = inlineTaskOf(engine);
      const window = task === "code" ? CODE_PROMPT_CHARS : this.prefixWindow(this.bundleInfo.templates[task]);
      this.cache = new CompletionCache(this.opts.cacheSize ?? 64, window);
      this.opts.log?.(`loaded ${engine.info.bundle} from ${engine.info.bundleDir} on ${engine.info.provider} in ${Math.round(engine.info.loadMs)} ms`);
      return engine;
    } catch (e) {
      this.loadError = e instanceof Error ? e : new Error(String(e));
      this.opts.log?.(`model load failed: ${this.loadError.message}`);
      throw this.loadError;
    } finally {
      this.emitStatus();
    }
  }

  /** Waits for the current (re)load; a load replaced by a newer one is followed to the newer one. */
  private async ready(): Promise<void> {
    // Requests right after `initialized` may arrive while the settings are still being pulled.
    if (!this.loading) await this.loadStarted;
    while (!this.engine || this.reloading) {
      const p = this.loading;
      if (!p) throw new EngineUnavailableError("no model load was started");
      try {
        await p;
        if (this.loading === p) return;
      } catch (e) {
        if (this.loading !== p) continue;
        throw new EngineUnavailableError(e instanceof Error ? e.message : String(e));
      }
    }
  }

  /** Why no model can run now (a failed load, or an engine that gave up), else null. */
  private failure(): Error | null {
    return this.loadError ?? (this.reloading ? null : this.engineFailure);
  }

  private requireEngine(): Engine {
    if (this.engineFailure && !this.reloading) throw new EngineUnavailableError(this.engineFailure.message);
    if (!this.engine) throw new EngineUnavailableError(this.loadError?.message ?? "the model is being (re)loaded");
    return this.engine;
  }

  private requireCache(): CompletionCache {
    if (!this.cache) throw new EngineUnavailableError("the model is being (re)loaded");
    return this.cache;
  }

  /** Prefix characters: the configured window, capped so prompt + output fit the model's context (char-level). */
  private prefixWindow(template: string | undefined): number {
    const want = this.opts.prefixChars ?? 96;
    const info = this.bundleInfo;
    if (!info?.maxLen) return want;
    const gen = this.settingsNow.genLength ?? info.genLength ?? 0;
    const templateChars = template ? template.replace("{prompt}", "").replace("{suffix}", "").length : 0;
    const suffix = template?.includes("{suffix}") ? (this.opts.suffixChars ?? 32) : 0;
    return Math.max(8, Math.min(want, info.maxLen - gen - templateChars - suffix - CONTEXT_SLACK));
  }

  /** Lengths and the cache mode from the settings (the engine's defaults where unset). */
  private lengths(): Pick<GenerateRequest, "genLength" | "blockLength" | "steps" | "cache"> {
    const s = this.settingsNow;
    const out: Pick<GenerateRequest, "genLength" | "blockLength" | "steps" | "cache"> = {};
    if (s.cache !== undefined) out.cache = s.cache;
    if (s.genLength !== undefined) out.genLength = s.genLength;
    if (s.blockLength !== undefined) out.blockLength = s.blockLength;
    if (s.steps !== undefined) out.steps = s.steps;
    return out;
  }

  private settingsRule(): Pick<GenerateRequest, "stop"> {
    return this.settingsNow.stopRule !== undefined ? { stop: this.settingsNow.stopRule } : {};
  }

  private settingsKey(task: string): string {
    const s = this.settingsNow;
    return JSON.stringify([this.engine?.info.bundleDir, task, s.stopRule ?? null, s.stopParams ?? null, s.genLength ?? null, s.blockLength ?? null, s.steps ?? null, s.cache ?? null]);
  }

  private state(): DaemonState {
    if (this.reloading || (!this.engine && !this.loadError)) return "loading";
    if (this.failure()) return "failed";
    if (this.queue.isBusy) return this.slow ? "slow" : "generating";
    return "ready";
  }

  private startSlowTimer(): void {
    this.clearSlow();
    this.slowTimer = setTimeout(() => {
      this.slow = true;
      this.emitStatus();
    }, this.opts.slowMs ?? 3000);
    this.slowTimer.unref();
  }

  private clearSlow(): void {
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.slowTimer = null;
    this.slow = false;
  }

  private queueChanged(): void {
    this.emitStatus();
  }

  /** Notifies on a change of state, queue length or message (counters alone do not notify). */
  private emitStatus(): void {
    if (!this.opts.onStatus) return;
    const s = this.status();
    const sig = JSON.stringify([s.state, s.queueLength, s.message ?? "", s.bundle, s.lastCompletion?.shown, s.lastCompletion?.reason]);
    if (sig === this.lastStatus) return;
    this.lastStatus = sig;
    this.opts.onStatus(s);
  }
}
