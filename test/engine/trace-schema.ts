/** Validates traces against schemas/trace.schema.json with ajv (draft 2020-12). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";

const schema = JSON.parse(readFileSync(join(__dirname, "..", "..", "schemas", "trace.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

export function assertValidTrace(trace: unknown, what = "trace"): void {
  const ok = validate(JSON.parse(JSON.stringify(trace)));
  assert.ok(ok, `${what} does not match schemas/trace.schema.json: ${JSON.stringify(validate.errors, null, 1)}`);
}
