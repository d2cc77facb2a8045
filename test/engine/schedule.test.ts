import { test } from "node:test";
import assert from "node:assert/strict";
import { gaussianCounts, transferCounts, uniformCounts } from "../../server/src/sampler/schedule";

test("uniform counts: base = L // T, the first L % T steps get one more", () => {
  assert.deepEqual(uniformCounts(10, 4), [3, 3, 2, 2]);
  assert.deepEqual(uniformCounts(32, 32), new Array(32).fill(1));
  assert.deepEqual(uniformCounts(3, 5), [1, 1, 1, 0, 0]);
  assert.deepEqual(transferCounts("uniform", 8, 8), [1, 1, 1, 1, 1, 1, 1, 1]);
});

test("gaussian counts match the hand computation", () => {
  // T=4, L=8: w = e^-1.125, e^-0.125, e^-0.125, e^-1.125 -> 1.0758, 2.9242, 2.9242, 1.0758 -> floors 1,2,2,1,
  // remainder 2 to the largest fractional parts (steps 1 and 2).
  assert.deepEqual(gaussianCounts(8, 4), [1, 3, 3, 1]);
  // T=5, L=10: 0.9242, 2.4138, 3.3241, 2.4138, 0.9242 -> floors 0,2,3,2,0, remainder 3 -> steps 0 and 4
  // (0.924), then the 0.414 tie goes to the earlier step 1.
  assert.deepEqual(gaussianCounts(10, 5), [1, 3, 3, 2, 1]);
  assert.deepEqual(transferCounts("gaussian", 10, 5), [1, 3, 3, 2, 1]);
});

test("gaussian counts agree with the Python reference sampler (training/edit_dllm/sampler.py schedule_counts)", () => {
  const reference: [number, number, number[]][] = [
    [10, 7, [1, 1, 2, 2, 2, 1, 1]],
    [16, 3, [4, 9, 3]],
    [32, 16, [1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 1]],
    [64, 32, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]]
  ];
  for (const [L, T, want] of reference) assert.deepEqual(gaussianCounts(L, T), want, `L=${L} T=${T}`);
});
