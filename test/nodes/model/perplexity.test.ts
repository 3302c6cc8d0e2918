import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PerplexityAccumulator, streamPerplexity, predictedRange, FIRST_PREDICTED, PerplexityError,
} from "../../../nodes/model/perplexity.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";

test("uniform model over V words has perplexity V", () => {
  const ids = new Int32Array(50).fill(3);
  const r = streamPerplexity(ids, () => Math.log(1 / 37));
  assert.equal(r.predicted, 50 - FIRST_PREDICTED);
  assert.ok(Math.abs(r.ppl - 37) < 1e-9);
});

test("hand-computed case: probabilities 1/2, 1/4, 1/8 → ppl 4, first 4 words not predicted", () => {
  const ids = Int32Array.from([9, 9, 9, 9, 0, 1, 2]);
  const p = [NaN, NaN, NaN, NaN, 1 / 2, 1 / 4, 1 / 8];
  const seen: number[] = [];
  const r = streamPerplexity(ids, (i) => (seen.push(i), Math.log(p[i]!)));
  assert.deepEqual(seen, [4, 5, 6]);
  assert.equal(r.predicted, 3);
  // mean NLL = (ln2 + 2ln2 + 3ln2)/3 = 2 ln 2 → ppl = 4
  assert.ok(Math.abs(r.meanNll - 2 * Math.LN2) < 1e-12);
  assert.ok(Math.abs(r.ppl - 4) < 1e-12);
});

test("accumulator matches the stream helper and rejects bad log-probabilities", () => {
  const acc = new PerplexityAccumulator();
  acc.addAll([Math.log(0.5), Math.log(0.125)]);
  assert.ok(Math.abs(acc.result().ppl - 4) < 1e-12);
  assert.throws(() => acc.add(NaN), (e: unknown) => isCerberusError(e, "BAD_LOG_PROB"));
  assert.throws(() => acc.add(0.5), (e: unknown) => isCerberusError(e, "BAD_LOG_PROB"));
  assert.throws(() => acc.add(-Infinity), (e: unknown) => isCerberusError(e, "ZERO_PROBABILITY"));
  acc.add(1e-12); // rounding of a probability ≈ 1 is accepted as ln 1
  assert.equal(acc.predicted, 3);
  assert.throws(() => new PerplexityAccumulator().result(), PerplexityError);
  assert.throws(() => predictedRange(FIRST_PREDICTED), (e: unknown) => isCerberusError(e, "SPLIT_TOO_SHORT"));
});
