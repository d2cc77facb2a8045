/** generate's prompt checks: empty prompt refused, the default-task and <unk> warnings (hand-written cases). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkPromptNotEmpty, promptWarnings } from "../../server/src/cli/prompt-checks";
import { UsageError } from "../../server/src/errors";

const base = { prompt: "7 3 12>33", task: "countdown", raw: false, defaultTask: "arith", tasks: ["countdown", "arith"], promptIds: [5, 6, 7], unkId: 0 };

test("an empty or blank prompt is a usage error", () => {
  assert.throws(() => checkPromptNotEmpty(""), UsageError);
  assert.throws(() => checkPromptNotEmpty(" \t"), /the prompt is empty/);
  checkPromptNotEmpty("1+2");
});

test("no warning for a named task and known characters", () => {
  assert.deepEqual(promptWarnings(base), []);
  // --raw applies no template: no task to name.
  assert.deepEqual(promptWarnings({ ...base, task: undefined, raw: true }), []);
});

test("no --task: the default task is named", () => {
  const w = promptWarnings({ ...base, task: undefined });
  assert.equal(w.length, 1);
  assert.match(w[0], /default task "arith" \(tasks: countdown, arith\)/);
});

test("<unk> tokens are counted and non-ASCII characters named", () => {
  const w = promptWarnings({ ...base, prompt: "7 3 é😀", promptIds: [5, 6, 0, 0] });
  assert.deepEqual(w, ['2 prompt token(s) are not in the model\'s vocabulary and became <unk> (non-ASCII characters such as "é😀")']);
  assert.deepEqual(promptWarnings({ ...base, unkId: null, promptIds: [0, 0] }), []);
});

test("no --task on a bundle with a single task: nothing to choose, no warning", () => {
  assert.deepEqual(promptWarnings({ ...base, task: undefined, defaultTask: "code", tasks: ["code"] }), []);
});
