/**
 * The engine's public surface for the research package (research/: eval and bench), which imports
 * nothing else from server/. dist/cli.js re-exports it and dist/research.js loads it from there at
 * run time, so the daemon, the .vsix and the research bundle share one copy of the engine.
 */
export { loadEngine, type RuleFactory } from "./engine";
export type { CacheMode, Engine, EngineOptions } from "./engine-types";
export { UsageError } from "./errors";
export { defaultBundleDir, packageRoot } from "./bundle/locate";
export { loadBundle, readBundleConfig } from "./bundle/load";
export { readCommitPolicies } from "./bundle/commit-policies";
export { checkerFor, scorerFor, type TaskItem } from "./tasks/index";
export type { Activation, DllmModel, ForwardRequest, ForwardResult } from "./model/types";
export { createOnnxModel } from "./model/onnx-model";
export { CACHE_MODES } from "./model/kv-cache-model";
export { isProviderChoice } from "./model/providers";
export { idsBeforeEos } from "./sampler/trace";
export { transferCounts } from "./sampler/schedule";
export type { BlockInfo, StepDecision, StepView, StopRule } from "./stop/rule";
export type { RuleContext } from "./stop/context";
export { createStopRule, listStopRules } from "./stop/registry";
export { klDivergence, renormalizeInPlace, softmaxInto } from "./stop/math";
export { CommitFeatures } from "./stop/commit-features";
export { anchoredWindowStart } from "./daemon/inline-prompt";
export { optInt, optNum } from "./cli/generate";
export { parseParamValue } from "./cli/params";
export { createItemProgress } from "./cli/progress";
