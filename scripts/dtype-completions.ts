/**
 * The same completions side by side per dtype (the SmolLM2 bundles of `python -m edit_dllm.smollm.dtypes`):
 * three code prompts, the bundle's task and generation settings, rule `full`, CPU, 2 threads.
 *
 *     node --import tsx scripts/dtype-completions.ts [models/smollm2-135m-dllm] > bench/smollm-completions.json
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { loadEngine } from "../server/src/engine";

const PROMPTS = [
  "def parse_header(line):\n    name, _, value = line.partition(':')\n    return ",
  "class Request:\n    def __init__(self, url, method='GET'):\n        self.url = url\n        self.method = ",
  "import json\n\ndef load(path):\n    with open(path) as f:\n        ",
];

async function main(): Promise<void> {
  const base = resolve(process.argv[2] ?? "models/smollm2-135m-dllm");
  const rows: { dtype: string; prompt: string; text: string; forwards: number }[] = [];
  for (const dtype of ["fp32", "fp16", "int8", "int4"]) {
    const dir = dtype === "fp32" ? base : `${base}-${dtype}`;
    if (!existsSync(dir)) continue;
    const e = await loadEngine({ bundleDir: dir, provider: "cpu", threads: 2 });
    for (const prompt of PROMPTS) {
      const r = await e.generate({ prompt, stop: "full" });
      rows.push({ dtype, prompt, text: r.text, forwards: r.trace.totals.forwards });
    }
    await e.dispose();
  }
  process.stdout.write(JSON.stringify(rows, null, 1) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
