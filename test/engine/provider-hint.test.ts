/** The hint after a provider that cannot start: what to install, or auto/cpu. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { providerHint } from "../../server/src/cli/provider-hint";

test("cuda names the missing libraries, doctor, and the auto/cpu way out", () => {
  const h = providerHint("cuda");
  assert.match(h, /^hint: the CUDA provider needs/);
  assert.match(h, /libonnxruntime_providers_cuda\.so/);
  assert.match(h, /edit-dllm doctor/);
  assert.match(h, /--provider auto .* or --provider cpu\n$/);
});

test("no hint for cpu or an unknown provider", () => {
  assert.equal(providerHint("cpu"), "");
  assert.equal(providerHint(undefined), "");
});
