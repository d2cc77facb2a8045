/**
 * The bad-bundle suite: 21 corruptions of the micro bundle, and 8 special or out-of-range files (issue
 * 22: FIFOs, devices, a folder, huge numbers), each loaded by the real engine; each must
 * fail with a typed error whose message names the offending file, never a TypeError, never ONNX
 * Runtime's internal C++ text, and never the file's content.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEngine } from "../../server/src/engine";
import { microBundle } from "../daemon/lsp-client";
import type { Figures } from "./suites";

interface Corruption {
  name: string;
  /** The file the error must name. */
  file: string;
  apply: (dir: string) => void;
}

const json = (dir: string) => JSON.parse(readFileSync(join(dir, "bundle.json"), "utf8")) as Record<string, any>;
const putJson = (dir: string, v: unknown) => writeFileSync(join(dir, "bundle.json"), JSON.stringify(v));
const edit = (fn: (b: Record<string, any>) => void) => (dir: string) => {
  const b = json(dir);
  fn(b);
  putJson(dir, b);
};
const SECRET = "SECRET-CONTENT-7731";

export const CORRUPTIONS: Corruption[] = [
  ...["bundle.json", "model.onnx", "tokenizer.json", "edit-metadata.safetensors"].map((f) => ({ name: `${f} missing`, file: f, apply: (d: string) => unlinkSync(join(d, f)) })),
  { name: "model.onnx empty", file: "model.onnx", apply: (d) => truncateSync(join(d, "model.onnx"), 0) },
  { name: "model.onnx cut in half", file: "model.onnx", apply: (d) => truncateSync(join(d, "model.onnx"), Math.floor(readFileSync(join(d, "model.onnx")).length / 2)) },
  { name: "model.onnx not protobuf", file: "model.onnx", apply: (d) => writeFileSync(join(d, "model.onnx"), Buffer.from([0x0f, 0xff, 0xff, 0xff])) },
  { name: "bundle.json not JSON", file: "bundle.json", apply: (d) => writeFileSync(join(d, "bundle.json"), `${SECRET} {`) },
  { name: "bundle.json an array", file: "bundle.json", apply: (d) => putJson(d, []) },
  { name: "bundle.json without ids", file: "bundle.json", apply: edit((b) => delete b.ids) },
  { name: "bundle.json ids.mask a string", file: "bundle.json", apply: edit((b) => (b.ids.mask = "3")) },
  { name: "bundle.json vocab_size off by one", file: "bundle.json", apply: edit((b) => (b.vocab_size = b.vocab_size - 1)) },
  { name: "bundle.json no tasks", file: "bundle.json", apply: edit((b) => (b.tasks = {})) },
  { name: "bundle.json unknown default_task", file: "bundle.json", apply: edit((b) => (b.default_task = "nope")) },
  { name: "bundle.json block_length not dividing gen_length", file: "bundle.json", apply: edit((b) => (b.generation.block_length = 7)) },
  { name: "bundle.json probe of an unknown module", file: "edit-metadata.safetensors", apply: edit((b) => (b.probes = { ...b.probes, [Object.keys(b.probes)[0]]: "no.such.module" })) },
  { name: "tokenizer.json not JSON", file: "tokenizer.json", apply: (d) => writeFileSync(join(d, "tokenizer.json"), `${SECRET} [`) },
  { name: "tokenizer.json an empty object", file: "tokenizer.json", apply: (d) => writeFileSync(join(d, "tokenizer.json"), "{}") },
  { name: "safetensors empty", file: "edit-metadata.safetensors", apply: (d) => truncateSync(join(d, "edit-metadata.safetensors"), 0) },
  { name: "safetensors cut short", file: "edit-metadata.safetensors", apply: (d) => truncateSync(join(d, "edit-metadata.safetensors"), 100) },
  {
    name: "safetensors header length absurd",
    file: "edit-metadata.safetensors",
    apply: (d) => {
      const f = join(d, "edit-metadata.safetensors");
      const b = readFileSync(f);
      b.writeBigUInt64LE(0xffffffffffffn, 0);
      writeFileSync(f, b);
    },
  },
];

/** A file replaced by something that is not a regular file (a read of it would block or never end). */
const special = (f: string, make: (path: string) => void) => (d: string) => {
  unlinkSync(join(d, f));
  make(join(d, f));
};
const fifo = (path: string) => {
  if (spawnSync("mkfifo", [path]).status !== 0) throw new Error(`mkfifo ${path} failed`);
};

/** Issue 22: special files and numbers out of range; each must be refused by name, fast, without reading. */
export const SPECIAL_FILES: Corruption[] = [
  { name: "bundle.json a FIFO", file: "bundle.json", apply: special("bundle.json", fifo) },
  { name: "model.onnx a FIFO", file: "model.onnx", apply: special("model.onnx", fifo) },
  { name: "tokenizer.json linked to /dev/zero", file: "tokenizer.json", apply: special("tokenizer.json", (p) => symlinkSync("/dev/zero", p)) },
  { name: "edit-metadata.safetensors linked to /dev/zero", file: "edit-metadata.safetensors", apply: special("edit-metadata.safetensors", (p) => symlinkSync("/dev/zero", p)) },
  { name: "tokenizer.json a folder", file: "tokenizer.json", apply: special("tokenizer.json", (p) => mkdirSync(p)) },
  { name: "bundle.json steps 1e400", file: "bundle.json", apply: (d) => writeFileSync(join(d, "bundle.json"), readFileSync(join(d, "bundle.json"), "utf8").replace(/"steps": \d+/, '"steps": 1e400')) },
  { name: "bundle.json max_len 1e308", file: "bundle.json", apply: edit((b) => (b.model.max_len = 1e308)) },
  { name: "bundle.json gen_length 2^53", file: "bundle.json", apply: edit((b) => (b.generation.gen_length = 2 ** 53)) },
];

/** The longest a refused load may take before it counts as a hang. */
const LOAD_BOUND_MS = 30_000;

export async function badBundles(): Promise<Figures> {
  const wrong: string[] = [];
  let hangs = 0;
  const root = mkdtempSync(join(tmpdir(), "edit-badbundle-"));
  try {
    for (const [i, c] of [...CORRUPTIONS, ...SPECIAL_FILES].entries()) {
      const dir = join(root, String(i));
      cpSync(microBundle, dir, { recursive: true });
      c.apply(dir);
      let error: Error | null = null;
      let timer: NodeJS.Timeout | undefined;
      try {
        // loadEngine reads synchronously: a blocking read would hang this process, so the bound is
        // only a backstop; the files must be refused before they are opened.
        const e = await Promise.race([loadEngine({ bundleDir: dir, provider: "cpu" }), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("HANG")), LOAD_BOUND_MS)))]);
        await e.dispose();
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
      } finally {
        clearTimeout(timer);
      }
      if (error?.message === "HANG") hangs++;
      else if (!error) wrong.push(`${c.name}: loaded without an error`);
      else if (!error.message.includes(c.file)) wrong.push(`${c.name}: the error does not name ${c.file}: ${error.message.slice(0, 200)}`);
      else if (/TypeError|Cannot read properties|onnxruntime::|Protobuf/.test(`${error.name} ${error.message}`)) wrong.push(`${c.name}: ${error.name}: ${error.message.slice(0, 200)}`);
      else if (error.message.includes(SECRET)) wrong.push(`${c.name}: the file's content is echoed`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { suite: "bad-bundles", messages: CORRUPTIONS.length + SPECIAL_FILES.length, crashes: 0, hangs, lost: 0, wrongCodes: wrong.length, wrongExamples: wrong, rssStartMB: 0, rssEndMB: 0, rssPeakMB: 0, extra: {} };
}
