import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { KneserNeyTrigram, tuneDiscounts, type KnDiscounts } from "../../../nodes/model/kn.ts";
import { evaluateKnBaseline } from "../../../nodes/train/kn-baseline.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { FIRST_PREDICTED } from "../../../nodes/model/perplexity.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";

const half: KnDiscounts = { trigram: [0.5, 0.5, 0.5], bigram: [0.5, 0.5, 0.5], unigram: [0.5, 0.5, 0.5] };

function sumOverVocab(m: KneserNeyTrigram, ctx: number[]): number {
  let s = 0;
  for (let w = 0; w < m.vocabSize; w++) s += m.prob(w, ctx);
  return s;
}

test("hand-computed probabilities on a tiny stream", () => {
  // Trigrams 012, 120, 201 twice each; every continuation count is 1; V = 3, all discounts 0.5.
  const m = KneserNeyTrigram.fromTrain(Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]), 3).withDiscounts(half);
  const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);
  close(m.prob(0, []), 1 / 3); // P1 = (1 − .5 + .5·3·⅓)/3
  close(m.prob(2, [1]), 2 / 3); // P2(2|1) = (1 − .5 + .5·1·⅓)/1
  close(m.prob(0, [1]), 1 / 6);
  close(m.prob(2, [0, 1]), 11 / 12); // P3(2|0 1) = (2 − .5 + .5·1·⅔)/2
  close(m.prob(0, [0, 1]), 1 / 24);
  close(m.prob(0, [2, 2]), 2 / 3); // unseen trigram context → P2(0|2)
  close(m.prob(0, [7, 7, 2, 2].slice(2)), 2 / 3);
});

test("probabilities sum to 1 over the vocabulary: seen, unseen, unknown and short contexts", () => {
  const { vocab, train } = loadBrownSplits({ maxWords: 40_000 });
  const V = vocab.words.length;
  const base = KneserNeyTrigram.fromTrain(train, V);
  const the = vocab.idOf("the"), of = vocab.idOf("of"), comma = vocab.idOf(",");
  assert.ok(the > 0 && of > 0 && comma > 0);
  // a context pair that occurs in train, and one that does not
  const seen = [train[100]!, train[101]!];
  let unseen: number[] | undefined;
  for (let a = 1; a < V && !unseen; a++) if (base.prob(0, [a, a]) === base.prob(0, [a])) unseen = [a, a];
  assert.ok(unseen, "found an unseen context");
  const contexts = [seen, [of, the], unseen, [0, 0], [0, the], [the, 0], [comma], [0], []];
  const settings: KnDiscounts[] = [
    base.discounts, half,
    { trigram: [1, 2, 3], bigram: [1, 2, 3], unigram: [1, 2, 3] },
    { trigram: [0.01, 0.01, 0.01], bigram: [0.9, 1.9, 2.9], unigram: [0.1, 0.2, 0.3] },
  ];
  for (const d of settings) {
    const m = base.withDiscounts(d);
    for (const ctx of contexts) {
      const s = sumOverVocab(m, ctx);
      assert.ok(Math.abs(s - 1) < 1e-9, `sum ${s} for context ${JSON.stringify(ctx)} with ${JSON.stringify(d)}`);
      const dist = m.distribution(ctx);
      assert.ok(dist.every((p) => p > 0 && p < 1));
    }
  }
  // A seen trigram gets more than its back-off share.
  const w = train[102]!;
  assert.ok(base.prob(w, seen) > base.prob(w, [seen[1]!]) * 0.5);
});

test("full corpus: distribution sums to 1 for several contexts", () => {
  const { vocab, train } = loadBrownSplits();
  const m = KneserNeyTrigram.fromTrain(train, vocab.words.length);
  const id = (w: string): number => vocab.idOf(w);
  for (const ctx of [[id("of"), id("the")], [id("."), id("The")], [0, 0], [id("Fulton"), id("County")], [id("the"), 0]]) {
    const d = m.distribution(ctx);
    let s = 0;
    for (const p of d) s += p;
    assert.ok(Math.abs(s - 1) < 1e-9, `sum ${s} for ${JSON.stringify(ctx)}`);
  }
});

test("fast feature path equals the direct perplexity; tuning only improves validation", () => {
  const { vocab, train, valid } = loadBrownSplits({ maxWords: 60_000 });
  const m = KneserNeyTrigram.fromTrain(train, vocab.words.length);
  const direct = m.perplexity(valid);
  assert.equal(direct.predicted, valid.length - FIRST_PREDICTED);
  assert.ok(Math.abs(Math.log(direct.ppl) - m.features(valid).meanNll(m.discounts)) < 1e-9);
  const tuned = tuneDiscounts(m, valid, { passes: 1 });
  assert.ok(tuned.validPpl <= direct.ppl + 1e-9);
  assert.ok(Math.abs(m.withDiscounts(tuned.discounts).perplexity(valid).ppl - tuned.validPpl) < 1e-6);
  // A trigram beats the uniform distribution by far even on a small slice.
  assert.ok(direct.ppl < vocab.words.length / 3);
});

test("bad input is a typed error", () => {
  const m = KneserNeyTrigram.fromTrain(Int32Array.from([0, 1, 2, 0, 1]), 3);
  const code = (c: string) => (e: unknown) => isCerberusError(e, c);
  assert.throws(() => m.prob(3, [0, 1]), code("TOKEN_OUT_OF_RANGE"));
  assert.throws(() => m.prob(0, [-1]), code("TOKEN_OUT_OF_RANGE"));
  assert.throws(() => m.prob(1.5, []), code("TOKEN_OUT_OF_RANGE"));
  assert.throws(() => m.perplexity(Int32Array.from([0, 1, 2, 0, 5, 1])), code("TOKEN_OUT_OF_RANGE"));
  assert.throws(() => m.withDiscounts({ ...half, trigram: [1.2, 1, 1] }), code("BAD_DISCOUNTS"));
  assert.throws(() => m.withDiscounts({ ...half, bigram: [0, 1, 1] }), code("BAD_DISCOUNTS"));
  assert.throws(() => KneserNeyTrigram.fromTrain(Int32Array.from([0, 1, 2]), 0), code("BAD_VOCAB"));
  assert.throws(() => KneserNeyTrigram.fromTrain(Int32Array.from([0, 1]), 3), code("TRAIN_TOO_SHORT"));
  assert.throws(() => KneserNeyTrigram.fromTrain(Int32Array.from([0, 1, 9]), 3), code("TOKEN_OUT_OF_RANGE"));
});

test("evaluateKnBaseline reports sizes and perplexities (corpus slice)", () => {
  const r = evaluateKnBaseline({ maxWords: 60_000 });
  assert.equal(r.train_words + r.valid_words + r.test_words, 60_000);
  assert.equal(r.test_predicted, r.test_words - FIRST_PREDICTED);
  assert.ok(r.ppl_kn_trigram > 1 && r.ppl_kn_trigram < r.vocab);
  assert.ok(r.ppl_kn_trigram_valid > 1 && Number.isFinite(r.ppl_kn_closed_form) && Number.isFinite(r.ppl_kn_single_discount));
  assert.equal(r.discounts.trigram.length, 3);
});

test("property: for random streams, discounts and contexts the distribution sums to 1", () => {
  const d3 = fc.tuple(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 2, noNaN: true }),
    fc.double({ min: 0.01, max: 3, noNaN: true }));
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 12 }).chain((V) => fc.record({
        V: fc.constant(V),
        stream: fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 3, maxLength: 200 }),
        ctx: fc.array(fc.integer({ min: 0, max: V - 1 }), { maxLength: 3 }),
        d: fc.record({ trigram: d3, bigram: d3, unigram: d3 }),
      })),
      ({ V, stream, ctx, d }) => {
        const m = KneserNeyTrigram.fromTrain(Int32Array.from(stream), V).withDiscounts(d);
        let s = 0;
        for (let w = 0; w < V; w++) {
          const p = m.prob(w, ctx);
          if (!(p > 0)) return false;
          s += p;
        }
        return Math.abs(s - 1) < 1e-9;
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});
