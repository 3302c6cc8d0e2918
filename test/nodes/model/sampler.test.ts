import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createRng } from "../../../nodes/core/prng.ts";
import { draw, samplingDistribution, textStats, topPOnly } from "../../../nodes/model/sampler.ts";

/** The definition: the most likely words (ties by id) until their mass reaches p of the total. */
function bySort(probs: Float64Array, p: number): Float64Array {
  const idx = [...probs.keys()].filter((i) => probs[i]! > 0).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const total = idx.reduce((s, i) => s + probs[i]!, 0);
  const out = new Float64Array(probs.length);
  let acc = 0;
  for (const i of idx) { out[i] = probs[i]!; acc += probs[i]!; if (acc >= p * total) break; }
  return out;
}

test("topPOnly keeps the smallest most-likely set reaching p of the mass (ties by id), on random vectors", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }),
    (ints, p) => {
      const probs = Float64Array.from(ints, (x) => x / 12);
      assert.deepEqual([...topPOnly(probs, p)], [...bySort(probs, p)]);
    }), { numRuns: 300 });
});

test("samplingDistribution: sums to 1, the excluded id gets 0, T 1 without truncation is p renormalised, top-k 1 is the argmax", () => {
  const p = Float64Array.of(0.4, 0.3, 0.2, 0.1);
  const full = samplingDistribution(p, { temperature: 1, topK: null, topP: 1 }, [0]);
  assert.deepEqual([...full].map((x) => +x.toFixed(12)), [0, 0.5, 0.333333333333, 0.166666666667]);
  assert.equal(p[0], 0.4, "the input is not modified");
  const greedy = samplingDistribution(p, { temperature: 0.5, topK: 1, topP: 1 }, [0]);
  assert.deepEqual([...greedy], [0, 1, 0, 0]);
  const nucleus = samplingDistribution(p, { temperature: 1, topK: null, topP: 0.7 }, []);
  assert.deepEqual([...nucleus].map((x) => +x.toFixed(12)), [0.571428571429, 0.428571428571, 0, 0]);
  const sharp = samplingDistribution(p, { temperature: 0.5, topK: 3, topP: 1 }, []);
  assert.ok(Math.abs(sharp.reduce((a, b) => a + b, 0) - 1) < 1e-12 && sharp[3] === 0 && sharp[0]! > 0.4);
  // draw follows q: 20,000 draws land within 2% of each share.
  const rng = createRng(3);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 20_000; i++) counts[draw(full, rng)]!++;
  counts.forEach((c, i) => assert.ok(Math.abs(c / 20_000 - full[i]!) < 0.02, `${i}: ${c}`));
});

test("textStats: content-word repeats within 10 words (prompt included), distinct bigrams of the continuation", () => {
  const words = "the jury said the jury said the jury said it".split(" ");
  // Continuation from word 3: "the jury said the jury said it" — content words jury, said, jury, said (all repeats: 4/4);
  // bigrams: 6, distinct: "the jury", "jury said", "said the", "said it" = 4.
  const s = textStats([{ words, from: 3 }]);
  assert.equal(s.repeatPct, 100);
  assert.equal(s.distinct2, +(4 / 6).toFixed(3));
  const unk = textStats([{ words: "a <unk> b <unk> c".split(" "), from: 2 }]);
  assert.equal(unk.repeatPct, 33.3, "<unk> counts as a content word by default: b, <unk> (a repeat), c");
  assert.equal(textStats([{ words: "a <unk> b <unk> c".split(" "), from: 2 }], { unkAsContent: false }).repeatPct, 0);
});
