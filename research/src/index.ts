/**
 * The research package: `edit-dllm eval` (research/src/eval) and `edit-dllm bench` (research/src/bench).
 * It imports only the engine's public surface (server/src/public.ts); scripts/build.mjs bundles it into
 * dist/research.js, which loads that surface from dist/cli.js at run time. The daemon, the inference
 * worker and the .vsix contain none of it: dist/cli.js loads this package only for those two commands.
 */
import type { ResearchCommands } from "../../server/src/cli/research";
import { benchCommand, BENCH_USAGE } from "./cli/bench";
import { evalCommand, EVAL_USAGE } from "./cli/eval";

export const research: ResearchCommands = { evalCommand, benchCommand, EVAL_USAGE, BENCH_USAGE };
