import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { topKOnly } from "../../nodes/client/generate.ts";

/** The definition: the k largest (the k-th largest value is the threshold), ties kept by lowest id, the rest zero. */
function bySort(probs: Float64Array, k: number): Float64Array {
  if (k >= probs.length) return probs;
  const threshold = [...probs].sort((a, b) => b - a)[k - 1]!;
  const out = new Float64Array(probs.length);
  let kept = 0;
  for (let i = 0; i < probs.length && kept < k; i++) if (probs[i]! >= threshold) { out[i] = probs[i]!; kept++; }
  return out;
}

test("topKOnly keeps exactly what sorting would (ties by id), on random vectors with many ties", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 80 }),
    (ints, k) => {
      const p = Float64Array.from(ints, (x) => x / 12);
      assert.deepEqual([...topKOnly(p, k)], [...bySort(p, k)]);
    }), { numRuns: 300 });
});
