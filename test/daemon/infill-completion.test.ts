/**
 * Issue 11 item 5: with a bundle that declares infill, an inline completion sends prefix AND suffix from
 * the document (documentWindow) and the engine puts the masks between them; without infill the old
 * prompt formats stay (the embedded model's code task is covered by inline-prompt.test.ts).
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonCore } from "../../server/src/daemon/core";
import { loadEngine } from "../../server/src/engine";
import type { GenerateRequest } from "../../server/src/engine-types";
import { writeTestBundle } from "../engine/bundle-builder";
import { FakeModel } from "../engine/fakes";

const dir = mkdtempSync(join(tmpdir(), "edit-infill-daemon-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("an infilling bundle gets the text after the cursor as the suffix; the masks sit between", async () => {
  writeTestBundle(dir, ({ config }) => {
    Object.assign(config, { format: "edit-bundle/2", chat_template: null, infill: { template: "{prefix}#{gen}{suffix}" } });
    Object.assign(config.model as object, { max_len: 64, cache: null, architecture: "edit-tiny", positions: "learned", dtype: "fp32" });
  });
  const model = new FakeModel(22, () => new Map());
  const seen: GenerateRequest[] = [];
  const core = new DaemonCore({
    loadEngine: async (o) => {
      const e = await loadEngine({ ...o, bundleDir: dir }, { model });
      const generate = e.generate.bind(e);
      return Object.assign(e, { generate: (r: GenerateRequest) => (seen.push(r), generate(r)) });
    },
    prefixChars: 6,
  });
  await core.load();
  await core.complete({ uri: "file:///a.txt", before: "12+12+3", after: "+4\n+5" });
  assert.equal(seen.length, 1);
  // documentWindow(maxChars 6, suffix share 0.25): suffix "+" (1 character, no line end inside), prefix the last 5.
  assert.equal(seen[0].suffix, "+");
  assert.equal(seen[0].prompt, "2+12+3".slice(-5));
  assert.equal(seen[0].overflow, "truncate");
  // Test bundle ids: "0".."9" = 4..13, "+" 14, "#" 17, mask 3; 8 masks between "#" and the suffix.
  assert.deepEqual(Array.from(model.inputs[0]), [14, 5, 6, 14, 7, 17, 3, 3, 3, 3, 3, 3, 3, 3, 14]);
  await core.dispose();
});
