import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { KneserNeyTrigram, tuneDiscounts } from "../../../nodes/model/kn.ts";
import { loadLmMixture, parseClientModel } from "../../../nodes/model/lm.ts";
import { fitMixture, fitMixtureInRegime } from "../../../nodes/train/mixture-fit.ts";
import { idStreamSha256, LmMixture, MIXTURE_FORMAT, MIXTURE_FORMAT_V1, parseMixtureConfig, temper, type MixtureConfig } from "../../../nodes/model/mixture.ts";
import { FIRST_PREDICTED } from "../../../nodes/model/perplexity.ts";
import { GENERATION_REGIME, generationHistoryStarts } from "../../../nodes/model/regime.ts";
import { sha256Hex } from "../../../nodes/core/sha256.ts";

const SLICE = 40_000;
const { vocab, train, valid } = loadBrownSplits({ maxWords: SLICE });
const V = vocab.words.length;
const kn = KneserNeyTrigram.fromTrain(train, V);

function config(over: Partial<MixtureConfig> = {}): MixtureConfig {
  return {
    format: MIXTURE_FORMAT, vocabSize: V,
    kn: { discounts: { trigram: [...kn.discounts.trigram], bigram: [...kn.discounts.bigram], unigram: [...kn.discounts.unigram] }, train: { words: train.length, sha256: idStreamSha256(train) }, corpusMaxWords: SLICE },
    cache: { size: 100 }, buckets: [0, 1, 10], historyBuckets: [0, 20],
    weights: [[[0.5, 0.3, 0.2], [0.4, 0.3, 0.3]], [[0.4, 0.5, 0.1], [0.3, 0.5, 0.2]], [[0.2, 0.7, 0.1], [0.2, 0.6, 0.2]]],
    ...over,
  };
}

test("KN distribution() equals prob() for every word (fast path = reference), seen, unseen and short contexts", () => {
  const contexts = [[train[100]!, train[101]!], [0, 0], [train[5]!], [], [V - 1, V - 2]];
  for (const ctx of contexts) {
    const d = kn.distribution(ctx);
    let sum = 0;
    for (let w = 0; w < V; w++) {
      sum += d[w]!;
      assert.ok(Math.abs(d[w]! - kn.prob(w, ctx)) < 1e-15, `context ${JSON.stringify(ctx)} word ${w}`);
    }
    assert.ok(Math.abs(sum - 1) < 1e-9);
  }
  assert.equal(kn.contextCount([train[100]!, train[101]!]) > 0, true);
  assert.equal(kn.contextCount([train[5]!]), 0);
});

test("mixture distribution sums to 1 and equals prob() for every word: empty, short and long histories", () => {
  const m = new LmMixture(kn, config());
  const pMlp = new Float64Array(V);
  for (let w = 0; w < V; w++) pMlp[w] = (w % 7) + 1;
  const z = pMlp.reduce((a, b) => a + b, 0);
  for (let w = 0; w < V; w++) pMlp[w]! /= z;
  for (const history of [[], [3], Array.from(valid.subarray(0, 50)), Array.from(valid.subarray(0, 400))]) {
    const d = m.distribution(pMlp, history);
    let sum = 0;
    for (let w = 0; w < V; w++) {
      sum += d[w]!;
      assert.ok(Math.abs(d[w]! - m.prob(w, pMlp[w]!, history)) < 1e-15, `history ${history.length} word ${w}`);
    }
    assert.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`);
  }
  // The cache only sees the last `size` words: a word seen only before the window gets no cache mass.
  const hist = [5, ...Array.from({ length: 100 }, () => 6)];
  assert.equal(m.parts(5, hist).cache, 0);
  assert.equal(m.parts(6, hist).cache, 1);
});

test("temper: T = 1 is the identity, T < 1 sharpens, result sums to 1", () => {
  const p = Float64Array.of(0.5, 0.3, 0.2, 0);
  assert.equal(temper(p, 1), p);
  const q = temper(p, 0.5);
  assert.ok(Math.abs(q.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(q[0]! > p[0]! && q[2]! < p[2]! && q[3] === 0);
  assert.throws(() => temper(p, 0), (e: unknown) => isCerberusError(e, "BAD_INPUT"));
});

test("mixture config: weights must sum to 1, buckets start at 0 and increase, one triple per cell; a v1 file reads as one history bucket", () => {
  const good = config();
  const bad: unknown[] = [
    config({ weights: [[[0.5, 0.5, 0.5], [0.4, 0.3, 0.3]], good.weights[1]!, good.weights[2]!] }),
    config({ buckets: [1, 2, 3] }),
    config({ buckets: [0, 10, 5] }),
    config({ historyBuckets: [3, 20] }),
    config({ weights: [[[1, 0, 0], [1, 0, 0]]] }),
    config({ weights: good.weights.map((row) => [row[0]!]) }),
    config({ sampler: { temperature: 0, topK: null, topP: 1 } }),
    { ...config(), format: "other" },
  ];
  for (const b of bad) assert.throws(() => parseMixtureConfig(b), (e: unknown) => isCerberusError(e, "MIXTURE_INVALID"));
  assert.doesNotThrow(() => parseMixtureConfig(good));
  const { historyBuckets: _h, weights, ...rest } = good;
  const v1 = parseMixtureConfig({ ...rest, format: MIXTURE_FORMAT_V1, weights: weights.map((row) => row[0]) });
  assert.deepEqual(v1.historyBuckets, [0]);
  assert.deepEqual(v1.weights, weights.map((row) => [row[0]]));
});

test("history-length buckets: the weights follow |h| (the cache weighs what a history of that length is worth)", () => {
  const m = new LmMixture(kn, config());
  const short = Array.from(valid.subarray(0, 10)), long = Array.from(valid.subarray(0, 30));
  assert.equal(m.historyBucketOf(short), 0);
  assert.equal(m.historyBucketOf(long), 1);
  assert.deepEqual(m.weightsOf(long), config().weights[m.bucketOf(long)]![1]);
  assert.equal(m.cellOf(long), m.bucketOf(long) * 2 + 1);
});

test("generation regime: every position from the first prompt on is predicted once, from a prompt of 3–12 words + at most 48 before it", () => {
  const from = generationHistoryStarts(10_000);
  let first = -1;
  for (let i = 0; i < from.length; i++) {
    if (from[i]! < 0) { assert.equal(first, -1, "only the first prompt is unpredicted"); continue; }
    if (first < 0) { first = i; assert.ok(i >= 3 && i <= 12); }
    const h = i - from[i]!;
    assert.ok(h >= 3 && h <= 59, `history ${h} at ${i}`);
  }
  // Segment starts: 48 predicted words per segment, prompts of every length in [3, 12].
  const prompts = new Set<number>();
  for (let i = first; i < from.length; i++) if (i === first || from[i] !== from[i - 1]) {
    prompts.add(i - from[i]!);
    if (i > first) assert.equal((i - first) % 48, 0);
  }
  assert.deepEqual([...prompts].sort((a, b) => a - b), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(generationHistoryStarts(10_000), from, "deterministic");
  assert.throws(() => generationHistoryStarts(5, { ...GENERATION_REGIME, promptMin: 8, promptMax: 8 }), (e: unknown) => isCerberusError(e, "SPLIT_TOO_SHORT"));
});

test("fit on validation: the mixture beats each part, weights sum to 1; the loader rebuilds the same counts and refuses another train split", () => {
  const tuned = kn.withDiscounts(tuneDiscounts(kn, valid).discounts);
  // A weak stand-in for the MLP: the train unigram distribution (smoothed).
  const counts = new Float64Array(V).fill(1);
  for (const id of train) counts[id]!++;
  const pMlp = new Float64Array(valid.length - FIRST_PREDICTED);
  for (let i = FIRST_PREDICTED; i < valid.length; i++) pMlp[i - FIRST_PREDICTED] = counts[valid[i]!]! / (train.length + V);
  const fit = fitMixture(tuned, train, valid, pMlp, { cacheSizes: [50, 200], corpusMaxWords: SLICE });
  const knAlone = tuned.perplexity(valid).ppl;
  assert.ok(fit.valid.mlpKn < Math.min(fit.valid.mlp, knAlone), JSON.stringify(fit.valid));
  assert.ok(fit.valid.shipped <= fit.valid.mlpKn);
  for (const row of fit.config.weights) for (const w of row) assert.ok(Math.abs(w[0] + w[1] + w[2] - 1) < 1e-9);

  // The generation-regime fit: the same stand-in, every word conditioned on its prompt + words so far only.
  const from = generationHistoryStarts(valid.length);
  const pRegime = new Float64Array(valid.length);
  for (let i = 0; i < valid.length; i++) if (from[i]! >= 0) pRegime[i] = counts[valid[i]!]! / (train.length + V);
  const regime = fitMixtureInRegime(tuned, train, valid, from, pRegime, { corpusMaxWords: SLICE });
  assert.ok(regime.valid.modelKn < regime.valid.model, JSON.stringify(regime.valid));
  assert.ok(regime.valid.shipped <= regime.valid.modelKnCacheOneWeight + 1e-9, "weights per history bucket fit at least as well as one per count bucket");
  assert.ok(regime.valid.shipped <= regime.valid.modelKn + 1e-9);
  assert.equal(regime.config.weights.length, regime.config.buckets.length);

  const dir = mkdtempSync(join(tmpdir(), "cerberus-mixture-"));
  try {
    // A client model whose word list is the corpus vocabulary (embeddings irrelevant here).
    const bin = new Uint8Array(V * 4);
    const json = JSON.stringify({ format: "cerberus-lm-client/1", n: 2, embed: 1, vocabSize: V, vPad: V, lowercase: false,
      embeddings: { file: "x.bin", dtype: "float32-le", shape: [V, 1], sha256: sha256Hex(bin) }, words: vocab.words });
    const client = parseClientModel(json, bin);
    const path = join(dir, "m.mixture.json");
    writeFileSync(path, JSON.stringify(fit.config));
    const loaded = loadLmMixture(path, client);
    for (let i = 10; i < 40; i++) {
      const h = valid.subarray(0, i);
      assert.equal(loaded.prob(valid[i]!, 0.01, h), new LmMixture(tuned, fit.config).prob(valid[i]!, 0.01, h));
    }
    writeFileSync(path, JSON.stringify({ ...fit.config, kn: { ...fit.config.kn, train: { ...fit.config.kn.train, sha256: "0".repeat(64) } } }));
    assert.throws(() => loadLmMixture(path, client), (e: unknown) => isCerberusError(e, "MIXTURE_INVALID"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
