/**
 * `edit-dllm`: generate | bench | serve --stdio. Exit codes: 0 ok, 1 failure (bundle, model, runtime),
 * 2 bad arguments or request (unknown flag, bad --param, unknown rule/task).
 */
// First: ONNX Runtime's telemetry off before anything loads onnxruntime-node (privacy.ts).
import "./privacy";
// Before vscode-languageserver loads: its own --clientProcessId watchdog would exit mid-forward.
import "./daemon/argv-client-pid";
import { BundleError, CancelledError, ModelError, RequestError, UsageError } from "./errors";
import { StopRuleError } from "./stop/errors";
import { doctorCommand, DOCTOR_USAGE } from "./cli/doctor";
import { providerHint } from "./cli/provider-hint";
import { loadResearch } from "./cli/research";
import { generateCommand, GENERATE_USAGE } from "./cli/generate";
import { serveCommand, SERVE_USAGE } from "./cli/serve";

// The engine's public surface, for dist/research.js (eval and bench) to load from this bundle.
export * from "./public";

const USAGE = `usage: edit-dllm <command> [options]
commands:
  generate   generate a completion for a prompt (prints the text and a one-line summary)
  bench      run stop rules over task items; writes bench/results.json and bench/results.md
  eval       honest evaluation: every rule vs fixed-N at matched forwards, D_t, Pareto fronts, default choice
  serve      run the JSON-RPC/LSP daemon over stdio (--stdio)
  doctor     which execution providers run here (and why the others do not), the bundle's size and memory fit

${GENERATE_USAGE}

edit-dllm bench --help, edit-dllm eval --help: the research commands' options (research/, not in the daemon or the .vsix)

${SERVE_USAGE}

${DOCTOR_USAGE}`;

/**
 * The prompt from stdin, read only up to what `maxChars` characters can take: a UTF-16 code unit is at
 * most 3 UTF-8 bytes, so more than 3 x maxChars bytes is surely too long, and reading stops there
 * (issue 22: 10 MB on stdin took 7.6 s and 2.18 GB before the length check).
 */
async function readStdin(maxChars: number): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError("no PROMPT given and stdin is a terminal: pass the prompt as an argument or pipe it in");
  const maxBytes = 3 * maxChars;
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of process.stdin) {
    chunks.push(c as Buffer);
    bytes += (c as Buffer).length;
    if (bytes > maxBytes) {
      process.stdin.destroy();
      throw new RequestError("prompt", `at most ${maxChars} characters (the maximum prompt size, --max-prompt-chars)`, `more than ${maxBytes} bytes on stdin`);
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "generate":
        return await generateCommand(rest, { stdin: readStdin });
      case "bench":
        return await (await loadResearch(command)).benchCommand(rest);
      case "eval":
        return await (await loadResearch(command)).evalCommand(rest);
      case "serve":
        return await serveCommand(rest);
      case "doctor":
        return await doctorCommand(rest);
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(USAGE + "\n");
        return 0;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : "missing command");
    }
  } catch (e) {
    return report(e);
  }
}

function report(e: unknown): number {
  const err = e as Error & { code?: string };
  // node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown/malformed options.
  if (e instanceof UsageError || (typeof err.code === "string" && err.code.startsWith("ERR_PARSE_ARGS"))) {
    process.stderr.write(`edit-dllm: ${err.message}\nrun "edit-dllm --help" for usage\n`);
    return 2;
  }
  if (e instanceof RequestError || e instanceof StopRuleError) {
    process.stderr.write(`edit-dllm: ${err.message}\n`);
    return 2;
  }
  if (e instanceof BundleError || e instanceof ModelError || e instanceof CancelledError) {
    process.stderr.write(`edit-dllm: ${err.name}: ${err.message}\n`);
    if (e instanceof ModelError) process.stderr.write(providerHint(e.provider));
    return 1;
  }
  process.stderr.write(`edit-dllm: unexpected error: ${err?.stack ?? String(e)}\n`);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps the process alive on its own; the other commands end here.
      if (code !== -1) process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`edit-dllm: ${String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
