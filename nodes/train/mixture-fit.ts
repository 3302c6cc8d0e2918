/**
 * Training side of the client mixture (mixture.ts), all on the VALIDATION split from the model's probability of each
 * validation word. The runtime's own `parts` / `prob` are what is fitted and scored, so the fitted number is the number
 * `generate` samples from.
 *
 * - `fitMixtureInRegime` (what `npm run train` ships): the weights per (c(u v ·) bucket, history-length bucket) by EM
 *   in the generation regime (regime.ts): each validation word conditioned on the prompt + words-so-far a user's
 *   client would hold, never more.
 * - `fitMixture` (the long-document fit, kept for comparison): every word conditioned on the whole split before it,
 *   weights per c(u v ·) bucket, cache size from a grid.
 */
import type { KneserNeyTrigram } from "../model/kn.ts";
import { idStreamSha256, LmMixture, MIXTURE_FORMAT, type MixtureConfig } from "../model/mixture.ts";
import { FIRST_PREDICTED, streamPerplexity } from "../model/perplexity.ts";
import { GENERATION_REGIME, regimePerplexity, type GenerationRegime } from "../model/regime.ts";

export const DEFAULT_BUCKETS = [0, 1, 3, 10, 30, 100, 1000];
export const DEFAULT_CACHE_SIZES = [200, 500, 1000, 2000];
/** History-length buckets of the generation-regime fit: histories there hold 3 … 59 words. */
export const DEFAULT_HISTORY_BUCKETS = [0, 8, 16, 32];
/** Cache window of the regime fit: longer than any regime history, so there the cache holds the whole history. */
export const REGIME_CACHE_SIZE = 500;

/** EM for mixture weights per bucket; `active[k]` false keeps component k at weight 0. */
export function emWeights(comp: readonly Float64Array[], bucket: Int32Array, buckets: number, active: readonly boolean[], iters = 100): [number, number, number][] {
  const K = comp.length;
  const on = active.filter(Boolean).length;
  const w = Array.from({ length: buckets }, () => active.map((a) => (a ? 1 / on : 0)));
  const N = bucket.length;
  for (let it = 0; it < iters; it++) {
    const acc = Array.from({ length: buckets }, () => new Float64Array(K));
    const cnt = new Float64Array(buckets);
    for (let i = 0; i < N; i++) {
      const b = bucket[i]!, wb = w[b]!;
      let z = 0;
      for (let k = 0; k < K; k++) z += wb[k]! * comp[k]![i]!;
      if (!(z > 0)) continue;
      for (let k = 0; k < K; k++) acc[b]![k]! += (wb[k]! * comp[k]![i]!) / z;
      cnt[b]!++;
    }
    for (let b = 0; b < buckets; b++) {
      if (cnt[b] === 0) continue;
      for (let k = 0; k < K; k++) w[b]![k] = acc[b]![k]! / cnt[b]!;
    }
  }
  // Empty buckets (no validation position) take the weights of all positions.
  const fallback = active.map((a) => (a ? 1 / on : 0));
  return w.map((wb) => {
    const s = wb.reduce((a, b) => a + b, 0);
    const t = s > 0 ? wb.map((x) => x / s) : fallback;
    return [t[0]!, t[1]!, t[2]!];
  });
}

export interface MixtureFit {
  config: MixtureConfig;
  /** Validation perplexities: MLP alone, + KN (weights per bucket), + KN + cache per cache size, shipped. */
  valid: { mlp: number; mlpKn: number; mlpKnFixed: number; mlpKnCache: { size: number; ppl: number }[]; shipped: number };
  /** The ablations' configurations (same KN, cache weight 0): one weight pair for all contexts, and per bucket. */
  ablations: { knFixed: MixtureConfig; kn: MixtureConfig };
}

/**
 * Fits the mixture for one MLP. `pMlp[i − FIRST_PREDICTED]` = the MLP's probability of valid[i]; `valid` and `train`
 * are in the model's id order; `kn` holds the train counts with validation-tuned discounts.
 */
export function fitMixture(kn: KneserNeyTrigram, train: Int32Array, valid: Int32Array, pMlp: Float64Array,
  opts: { buckets?: number[]; cacheSizes?: number[]; corpusMaxWords?: number } = {}): MixtureFit {
  const buckets = opts.buckets ?? DEFAULT_BUCKETS;
  const cacheSizes = opts.cacheSizes ?? DEFAULT_CACHE_SIZES;
  const base: MixtureConfig = {
    format: MIXTURE_FORMAT, vocabSize: kn.vocabSize,
    kn: { discounts: { trigram: [...kn.discounts.trigram], bigram: [...kn.discounts.bigram], unigram: [...kn.discounts.unigram] }, train: { words: train.length, sha256: idStreamSha256(train) },
      ...(opts.corpusMaxWords !== undefined ? { corpusMaxWords: opts.corpusMaxWords } : {}) },
    cache: { size: cacheSizes[0]! }, buckets, historyBuckets: [0], weights: buckets.map(() => [[1, 0, 0]]),
  };
  const N = valid.length - FIRST_PREDICTED;
  if (pMlp.length !== N) throw new Error(`pMlp has ${pMlp.length} entries, expected ${N}`);
  const pKn = new Float64Array(N), bucket = new Int32Array(N);
  let m = new LmMixture(kn, base);
  for (let i = FIRST_PREDICTED; i < valid.length; i++) {
    const h = valid.subarray(0, i);
    pKn[i - FIRST_PREDICTED] = kn.prob(valid[i]!, h.subarray(Math.max(0, i - 2)));
    bucket[i - FIRST_PREDICTED] = m.bucketOf(h);
  }
  const score = (cfg: MixtureConfig): number => {
    m = m.withConfig(cfg);
    return streamPerplexity(valid, (i) => Math.log(m.prob(valid[i]!, pMlp[i - FIRST_PREDICTED]!, valid.subarray(0, i)))).ppl;
  };
  const zeros = new Float64Array(N);
  const mlp = score({ ...base, weights: buckets.map(() => [[1, 0, 0]]) });
  const fixed = emWeights([pMlp, pKn, zeros], new Int32Array(N), 1, [true, true, false])[0]!;
  const knFixed: MixtureConfig = { ...base, weights: buckets.map(() => [fixed]) };
  const knBucketed: MixtureConfig = { ...base, weights: emWeights([pMlp, pKn, zeros], bucket, buckets.length, [true, true, false]).map((w) => [w]) };
  const mlpKnFixed = score(knFixed);
  const mlpKn = score(knBucketed);
  let best: { cfg: MixtureConfig; ppl: number } | undefined;
  const withCache: { size: number; ppl: number }[] = [];
  for (const size of cacheSizes) {
    const probe = m.withConfig({ ...base, cache: { size } });
    const pCache = new Float64Array(N);
    for (let i = FIRST_PREDICTED; i < valid.length; i++) pCache[i - FIRST_PREDICTED] = probe.parts(valid[i]!, valid.subarray(0, i)).cache;
    const cfg: MixtureConfig = { ...base, cache: { size }, weights: emWeights([pMlp, pKn, pCache], bucket, buckets.length, [true, true, true]).map((w) => [w]) };
    const ppl = score(cfg);
    withCache.push({ size, ppl });
    if (best === undefined || ppl < best.ppl) best = { cfg, ppl };
  }
  return { config: best!.cfg, valid: { mlp, mlpKn, mlpKnFixed, mlpKnCache: withCache, shipped: best!.ppl }, ablations: { knFixed, kn: knBucketed } };
}

export interface RegimeMixtureFit {
  config: MixtureConfig;
  /** Validation perplexities in the generation regime. */
  valid: { model: number; modelKn: number; modelKnCacheOneWeight: number; shipped: number; predicted: number };
  ablations: { kn: MixtureConfig; cacheOneHistoryBucket: MixtureConfig };
}

/**
 * Fits the mixture in the generation regime. `from` = generationHistoryStarts(valid.length, regime);
 * `pModel[i]` = the model's probability of valid[i] given valid[from[i] … i−1] (only read where from[i] ≥ 0).
 */
export function fitMixtureInRegime(kn: KneserNeyTrigram, train: Int32Array, valid: Int32Array, from: Int32Array, pModel: Float64Array,
  opts: { buckets?: number[]; historyBuckets?: number[]; regime?: GenerationRegime; corpusMaxWords?: number } = {}): RegimeMixtureFit {
  const buckets = opts.buckets ?? DEFAULT_BUCKETS;
  const historyBuckets = opts.historyBuckets ?? DEFAULT_HISTORY_BUCKETS;
  const regime = opts.regime ?? GENERATION_REGIME;
  if (from.length !== valid.length || pModel.length !== valid.length) throw new Error("from and pModel must have one entry per validation word");
  const one = (w: [number, number, number]) => buckets.map(() => historyBuckets.map(() => w));
  const base: MixtureConfig = {
    format: MIXTURE_FORMAT, vocabSize: kn.vocabSize,
    kn: { discounts: { trigram: [...kn.discounts.trigram], bigram: [...kn.discounts.bigram], unigram: [...kn.discounts.unigram] }, train: { words: train.length, sha256: idStreamSha256(train) },
      ...(opts.corpusMaxWords !== undefined ? { corpusMaxWords: opts.corpusMaxWords } : {}) },
    cache: { size: REGIME_CACHE_SIZE }, buckets, historyBuckets, weights: one([1, 0, 0]),
    fittedOn: `validation, generation regime: prompt ${regime.promptMin}–${regime.promptMax} words + up to ${regime.generated} generated (seed ${regime.seed})`,
  };
  const positions: number[] = [];
  for (let i = 0; i < valid.length; i++) if (from[i]! >= 0) positions.push(i);
  const N = positions.length;
  const m0 = new LmMixture(kn, base);
  const pM = new Float64Array(N), pKn = new Float64Array(N), pCache = new Float64Array(N);
  const cell = new Int32Array(N), countBucket = new Int32Array(N);
  positions.forEach((i, k) => {
    const h = valid.subarray(from[i]!, i);
    const parts = m0.parts(valid[i]!, h);
    pM[k] = pModel[i]!;
    pKn[k] = parts.kn;
    pCache[k] = parts.cache;
    cell[k] = parts.cell;
    countBucket[k] = m0.bucketOf(h);
  });
  const score = (cfg: MixtureConfig): number => {
    const m = m0.withConfig(cfg);
    return regimePerplexity(from, (i, f) => Math.log(m.prob(valid[i]!, pModel[i]!, valid.subarray(f, i)))).ppl;
  };
  const cells = buckets.length * historyBuckets.length;
  const grid = (flat: [number, number, number][]) => buckets.map((_, b) => historyBuckets.map((_, l) => flat[b * historyBuckets.length + l]!));
  const zeros = new Float64Array(N);
  const kn1: MixtureConfig = { ...base, weights: grid(emWeights([pM, pKn, zeros], cell, cells, [true, true, false])) };
  const perCount = emWeights([pM, pKn, pCache], countBucket, buckets.length, [true, true, true]);
  const cacheOneHistoryBucket: MixtureConfig = { ...base, weights: buckets.map((_, b) => historyBuckets.map(() => perCount[b]!)) };
  const shippedCfg: MixtureConfig = { ...base, weights: grid(emWeights([pM, pKn, pCache], cell, cells, [true, true, true])) };
  return {
    config: shippedCfg,
    valid: { model: score(base), modelKn: score(kn1), modelKnCacheOneWeight: score(cacheOneHistoryBucket), shipped: score(shippedCfg), predicted: N },
    ablations: { kn: kn1, cacheOneHistoryBucket },
  };
}
