/**
 * Interpolated modified Kneser-Ney trigram (Chen & Goodman 1998, §3 and §4.1.6), the baseline Cerberus' LMs are
 * compared with. For a context (u, v) and word w:
 *
 *   P3(w | u v) = [ max(c(uvw) − D3(c(uvw)), 0) + γ3(uv) · P2(w | v) ] / c(uv·)       (= P2(w|v) if c(uv·) = 0)
 *   P2(w | v)   = [ max(N(·vw) − D2(N(·vw)), 0) + γ2(v) · P1(w) ] / Σ_x N(·vx)      (= P1(w) if v has no followers)
 *   P1(w)       = [ max(N(·w) − D1(N(·w)), 0) + γ1 · 1/V ] / Σ_x N(·x)
 *
 * where c = raw train counts, N(·vw) = number of distinct u with c(uvw) > 0 (continuation count),
 * N(·w) = number of distinct v with N(·vw) > 0, γ(ctx) = D(1)·n1(ctx) + D(2)·n2(ctx) + D(3+)·n3+(ctx) with nk(ctx) the
 * number of words whose count after ctx is k (resp. ≥ 3), and D_k(c) = 0, D(1), D(2), D(3+) for c = 0, 1, 2, ≥ 3.
 * Every level sums to 1 over the V words given that the level below does, and the uniform 1/V floor makes every
 * probability positive. Nine discounts (3 per order) are tuned on the validation split (`tuneDiscounts`).
 *
 * Counts live in sorted Float64Array key tables (key = (u·V + v)·V + w < 2^53 for V < 2^17) looked up by binary
 * search, so building over 800k words and scoring 200k words both take well under a second.
 */
import { CerberusError } from "../core/errors.ts";
import { predictedRange, PerplexityAccumulator, type PerplexityResult } from "./perplexity.ts";

export class KneserNeyError extends CerberusError {}

/** Discounts D(1), D(2), D(3+) of one order. */
export type DiscountTriple = readonly [number, number, number];

export interface KnDiscounts {
  readonly trigram: DiscountTriple;
  readonly bigram: DiscountTriple;
  readonly unigram: DiscountTriple;
}

const MAX_VOCAB = 1 << 17; // keeps (u·V + v)·V + w below 2^53

/** Sorted unique keys with a count each. */
interface CountTable {
  keys: Float64Array;
  counts: Int32Array;
}

/** Context statistics: total count after the context and the number of words seen 1, 2, ≥ 3 times after it. */
interface ContextTable {
  keys: Float64Array;
  total: Int32Array;
  n1: Int32Array;
  n2: Int32Array;
  n3: Int32Array;
}

function lowerBound(keys: Float64Array, key: number): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lookup(keys: Float64Array, key: number): number {
  const i = lowerBound(keys, key);
  return i < keys.length && keys[i] === key ? i : -1;
}

/** Run-length count of a sorted key array. */
function countSorted(sorted: Float64Array): CountTable {
  let unique = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) unique++;
  const keys = new Float64Array(unique);
  const counts = new Int32Array(unique);
  let j = -1;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) keys[++j] = sorted[i]!;
    counts[j]!++;
  }
  return { keys, counts };
}

/** Group a count table (sorted by key = ctx·V + w) by ctx. */
function contextTable(table: CountTable, V: number): ContextTable {
  let unique = 0;
  let prev = -1;
  for (let i = 0; i < table.keys.length; i++) {
    const ctx = Math.floor(table.keys[i]! / V);
    if (ctx !== prev) unique++;
    prev = ctx;
  }
  const t: ContextTable = {
    keys: new Float64Array(unique),
    total: new Int32Array(unique),
    n1: new Int32Array(unique),
    n2: new Int32Array(unique),
    n3: new Int32Array(unique),
  };
  let j = -1;
  prev = -1;
  for (let i = 0; i < table.keys.length; i++) {
    const ctx = Math.floor(table.keys[i]! / V);
    if (ctx !== prev) t.keys[++j] = ctx;
    prev = ctx;
    const c = table.counts[i]!;
    t.total[j]! += c;
    if (c === 1) t.n1[j]!++;
    else if (c === 2) t.n2[j]!++;
    else t.n3[j]!++;
  }
  return t;
}

/** Chen & Goodman's closed-form estimates from the count-of-counts n1 … n4 of one order. */
function estimateDiscounts(counts: ArrayLike<number>): DiscountTriple {
  const n = [0, 0, 0, 0, 0];
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c >= 1 && c <= 4) n[c]!++;
  }
  const [, n1, n2, n3, n4] = n as [number, number, number, number, number];
  if (n1 === 0 || n2 === 0 || n3 === 0 || n4 === 0) return [0.5, 1, 1.5]; // tiny corpora: a sane default
  const y = n1 / (n1 + 2 * n2);
  const clamp = (d: number, max: number): number => Math.min(Math.max(d, 0.05), max);
  return [clamp(1 - (2 * y * n2) / n1, 1), clamp(2 - (3 * y * n3) / n2, 2), clamp(3 - (4 * y * n4) / n3, 3)];
}

function validateDiscounts(d: KnDiscounts): void {
  for (const order of [d.trigram, d.bigram, d.unigram]) {
    if (order.length !== 3) throw new KneserNeyError("BAD_DISCOUNTS", "each order needs 3 discounts");
    order.forEach((x, k) => {
      // D(k) ≤ k keeps every numerator ≥ 0; D > 0 keeps every back-off weight (and so every probability) > 0.
      if (!(Number.isFinite(x) && x > 0 && x <= k + 1)) {
        throw new KneserNeyError("BAD_DISCOUNTS", `discount D(${k + 1}${k === 2 ? "+" : ""}) must be in (0, ${k + 1}], got ${x}`);
      }
    });
  }
}

/** Counts of a train stream, shared by every discount setting. */
class KnCounts {
  readonly V: number;
  readonly tri: CountTable; // key (u·V + v)·V + w → c(uvw)
  readonly ctx3: ContextTable; // key u·V + v
  readonly bi: CountTable; // key v·V + w → N(·vw)
  readonly total2: Int32Array; // by v: Σ_x N(·vx), and n1/n2/n3+ over those continuation counts
  readonly n21: Int32Array;
  readonly n22: Int32Array;
  readonly n23: Int32Array;
  readonly uni: Int32Array; // by w: N(·w)
  readonly total1: number;
  readonly n11: number;
  readonly n12: number;
  readonly n13: number;

  constructor(train: Int32Array, V: number) {
    this.V = V;
    const triKeys = new Float64Array(Math.max(train.length - 2, 0));
    for (let i = 2; i < train.length; i++) triKeys[i - 2] = (train[i - 2]! * V + train[i - 1]!) * V + train[i]!;
    triKeys.sort();
    this.tri = countSorted(triKeys);
    this.ctx3 = contextTable(this.tri, V);

    const VV = V * V;
    const biKeys = new Float64Array(this.tri.keys.length);
    for (let i = 0; i < biKeys.length; i++) biKeys[i] = this.tri.keys[i]! % VV;
    biKeys.sort();
    this.bi = countSorted(biKeys); // count of distinct u per (v, w)

    this.total2 = new Int32Array(V);
    this.n21 = new Int32Array(V);
    this.n22 = new Int32Array(V);
    this.n23 = new Int32Array(V);
    this.uni = new Int32Array(V);
    for (let i = 0; i < this.bi.keys.length; i++) {
      const key = this.bi.keys[i]!;
      const v = Math.floor(key / V);
      const w = key - v * V;
      const c = this.bi.counts[i]!;
      this.total2[v]! += c;
      if (c === 1) this.n21[v]!++;
      else if (c === 2) this.n22[v]!++;
      else this.n23[v]!++;
      this.uni[w]!++;
    }
    let total1 = 0, n11 = 0, n12 = 0, n13 = 0;
    for (let w = 0; w < V; w++) {
      const c = this.uni[w]!;
      total1 += c;
      if (c === 1) n11++;
      else if (c === 2) n12++;
      else if (c >= 3) n13++;
    }
    this.total1 = total1;
    this.n11 = n11;
    this.n12 = n12;
    this.n13 = n13;
  }
}

function discountOf(d: DiscountTriple, c: number): number {
  return c === 0 ? 0 : c === 1 ? d[0] : c === 2 ? d[1] : d[2];
}

/** One interpolation step: the level's probability given its count, context statistics and the lower level. */
function interpolate(
  d: DiscountTriple, c: number, total: number, n1: number, n2: number, n3: number, lower: number,
): number {
  if (total === 0) return lower;
  return (Math.max(c - discountOf(d, c), 0) + (d[0] * n1 + d[1] * n2 + d[2] * n3) * lower) / total;
}

export class KneserNeyTrigram {
  readonly vocabSize: number;
  readonly discounts: KnDiscounts;
  readonly #counts: KnCounts;

  private constructor(counts: KnCounts, discounts: KnDiscounts) {
    validateDiscounts(discounts);
    this.#counts = counts;
    this.vocabSize = counts.V;
    this.discounts = discounts;
  }

  /** Count a train id stream; discounts start at Chen & Goodman's closed-form estimates. */
  static fromTrain(train: Int32Array, vocabSize: number): KneserNeyTrigram {
    if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB) {
      throw new KneserNeyError("BAD_VOCAB", `vocabulary size must be an integer in [1, ${MAX_VOCAB}], got ${vocabSize}`);
    }
    if (train.length < 3) throw new KneserNeyError("TRAIN_TOO_SHORT", "a trigram model needs at least 3 train words");
    checkIds(train, vocabSize);
    const counts = new KnCounts(train, vocabSize);
    return new KneserNeyTrigram(counts, {
      trigram: estimateDiscounts(counts.tri.counts),
      bigram: estimateDiscounts(counts.bi.counts),
      unigram: estimateDiscounts(counts.uni),
    });
  }

  /** The same counts with other discounts (cheap: nothing is recounted). */
  withDiscounts(discounts: KnDiscounts): KneserNeyTrigram {
    return new KneserNeyTrigram(this.#counts, discounts);
  }

  /** Bytes held by the count tables (what a client keeps in memory to mix with the MLP). */
  get byteSize(): number {
    const c = this.#counts;
    const arrays = [c.tri.keys, c.tri.counts, c.ctx3.keys, c.ctx3.total, c.ctx3.n1, c.ctx3.n2, c.ctx3.n3, c.bi.keys, c.bi.counts,
      c.total2, c.n21, c.n22, c.n23, c.uni];
    return arrays.reduce((a, x) => a + x.byteLength, 0) + (this.#unigramCache?.byteLength ?? 0);
  }

  /** Number of distinct trigrams, bigram continuations and trigram contexts seen in train. */
  get stats(): { trigramTypes: number; bigramTypes: number; trigramContexts: number } {
    const c = this.#counts;
    return { trigramTypes: c.tri.keys.length, bigramTypes: c.bi.keys.length, trigramContexts: c.ctx3.keys.length };
  }

  #p1(w: number): number {
    const c = this.#counts;
    return interpolate(this.discounts.unigram, c.uni[w]!, c.total1, c.n11, c.n12, c.n13, 1 / c.V);
  }

  #p2(w: number, v: number, lower: number): number {
    const c = this.#counts;
    const i = lookup(c.bi.keys, v * c.V + w);
    const cnt = i < 0 ? 0 : c.bi.counts[i]!;
    return interpolate(this.discounts.bigram, cnt, c.total2[v]!, c.n21[v]!, c.n22[v]!, c.n23[v]!, lower);
  }

  #p3(w: number, u: number, v: number, lower: number): number {
    const c = this.#counts;
    const ctx = u * c.V + v;
    const j = lookup(c.ctx3.keys, ctx);
    if (j < 0) return lower;
    const i = lookup(c.tri.keys, ctx * c.V + w);
    const cnt = i < 0 ? 0 : c.tri.counts[i]!;
    return interpolate(this.discounts.trigram, cnt, c.ctx3.total[j]!, c.ctx3.n1[j]!, c.ctx3.n2[j]!, c.ctx3.n3[j]!, lower);
  }

  /**
   * P(w | context). Only the last two context ids are used (oldest first); a shorter context uses the lower orders.
   */
  prob(w: number, context: ArrayLike<number>): number {
    this.#checkId(w);
    for (let k = 0; k < context.length; k++) this.#checkId(context[k]!);
    const n = context.length;
    let p = this.#p1(w);
    if (n >= 1) p = this.#p2(w, context[n - 1]!, p);
    if (n >= 2) p = this.#p3(w, context[n - 2]!, context[n - 1]!, p);
    return p;
  }

  /**
   * The whole next-word distribution after `context` (length V, sums to 1): the same numbers as prob(w, context) for
   * every w, in O(V + followers) — each level is γ·lower/total for every word plus the discounted counts of the words
   * seen after the context, which are one contiguous run of the sorted key table. The client mixes this with the
   * MLP once per generated word (mixture.ts), so it must cost a millisecond, not V binary searches.
   */
  distribution(context: ArrayLike<number>): Float64Array {
    for (let k = 0; k < context.length; k++) this.#checkId(context[k]!);
    const c = this.#counts;
    const V = c.V;
    const out = this.#unigram().slice();
    const n = context.length;
    if (n >= 1) {
      const v = context[n - 1]!;
      const total = c.total2[v]!;
      if (total > 0) this.#level(out, this.discounts.bigram, c.bi, v, total, c.n21[v]!, c.n22[v]!, c.n23[v]!);
    }
    if (n >= 2) {
      const ctx = context[n - 2]! * V + context[n - 1]!;
      const j = lookup(c.ctx3.keys, ctx);
      if (j >= 0) this.#level(out, this.discounts.trigram, c.tri, ctx, c.ctx3.total[j]!, c.ctx3.n1[j]!, c.ctx3.n2[j]!, c.ctx3.n3[j]!);
    }
    return out;
  }

  /** Number of train trigrams whose first two words are the last two of `context` (0 if shorter): c(u v ·). */
  contextCount(context: ArrayLike<number>): number {
    const n = context.length;
    if (n < 2) return 0;
    const c = this.#counts;
    const u = context[n - 2]!, v = context[n - 1]!;
    this.#checkId(u);
    this.#checkId(v);
    const j = lookup(c.ctx3.keys, u * c.V + v);
    return j < 0 ? 0 : c.ctx3.total[j]!;
  }

  #unigramCache?: Float64Array;

  #unigram(): Float64Array {
    if (this.#unigramCache === undefined) {
      const p = new Float64Array(this.vocabSize);
      for (let w = 0; w < p.length; w++) p[w] = this.#p1(w);
      this.#unigramCache = p;
    }
    return this.#unigramCache;
  }

  /** In place: lower → interpolate(d, count(ctx, w), total, n1, n2, n3, lower) for every w (interpolate's formula). */
  #level(p: Float64Array, d: DiscountTriple, table: CountTable, ctx: number, total: number, n1: number, n2: number, n3: number): void {
    const V = this.vocabSize;
    const gamma = (d[0] * n1 + d[1] * n2 + d[2] * n3) / total;
    for (let w = 0; w < V; w++) p[w] = p[w]! * gamma;
    const end = lowerBound(table.keys, (ctx + 1) * V);
    for (let i = lowerBound(table.keys, ctx * V); i < end; i++) {
      const w = table.keys[i]! - ctx * V;
      const cnt = table.counts[i]!;
      p[w] = p[w]! + Math.max(cnt - discountOf(d, cnt), 0) / total;
    }
  }

  /** ln P(ids[i] | ids[i−2], ids[i−1]) for i ≥ 2. */
  logProbAt(ids: Int32Array, i: number): number {
    return Math.log(this.prob(ids[i]!, ids.subarray(Math.max(0, i - 2), i)));
  }

  /** Perplexity over a split with the shared definition (nodes/model/perplexity.ts). */
  perplexity(ids: Int32Array): PerplexityResult {
    checkIds(ids, this.vocabSize);
    const { start, end } = predictedRange(ids.length);
    const acc = new PerplexityAccumulator();
    for (let i = start; i < end; i++) acc.add(this.logProbAt(ids, i));
    return acc.result();
  }

  /** Per-position counts of a split, so that perplexity under many discount settings costs only arithmetic. */
  features(ids: Int32Array): KnFeatures {
    checkIds(ids, this.vocabSize);
    const { start, end } = predictedRange(ids.length);
    const c = this.#counts;
    const f = new KnFeatures(end - start);
    for (let i = start, k = 0; i < end; i++, k++) {
      const u = ids[i - 2]!, v = ids[i - 1]!, w = ids[i]!;
      const ctx = u * c.V + v;
      const j = lookup(c.ctx3.keys, ctx);
      if (j >= 0) {
        const t = lookup(c.tri.keys, ctx * c.V + w);
        f.c3[k] = t < 0 ? 0 : c.tri.counts[t]!;
        f.t3[k] = c.ctx3.total[j]!;
        f.n31[k] = c.ctx3.n1[j]!;
        f.n32[k] = c.ctx3.n2[j]!;
        f.n33[k] = c.ctx3.n3[j]!;
      }
      const b = lookup(c.bi.keys, v * c.V + w);
      f.c2[k] = b < 0 ? 0 : c.bi.counts[b]!;
      f.t2[k] = c.total2[v]!;
      f.n21[k] = c.n21[v]!;
      f.n22[k] = c.n22[v]!;
      f.n23[k] = c.n23[v]!;
      f.c1[k] = c.uni[w]!;
    }
    f.t1 = c.total1;
    f.n11 = c.n11;
    f.n12 = c.n12;
    f.n13 = c.n13;
    f.V = c.V;
    return f;
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new KneserNeyError("TOKEN_OUT_OF_RANGE", `token id ${id} is not in [0, ${this.vocabSize})`);
    }
  }
}

function checkIds(ids: Int32Array, V: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= V) throw new KneserNeyError("TOKEN_OUT_OF_RANGE", `token id ${id} at ${i} is not in [0, ${V})`);
  }
}

/** Column store of the counts each predicted position needs (see KneserNeyTrigram.features). */
export class KnFeatures {
  readonly length: number;
  readonly c3: Int32Array; readonly t3: Int32Array; readonly n31: Int32Array; readonly n32: Int32Array; readonly n33: Int32Array;
  readonly c2: Int32Array; readonly t2: Int32Array; readonly n21: Int32Array; readonly n22: Int32Array; readonly n23: Int32Array;
  readonly c1: Int32Array;
  t1 = 0; n11 = 0; n12 = 0; n13 = 0; V = 1;

  constructor(length: number) {
    this.length = length;
    const a = (): Int32Array => new Int32Array(length);
    this.c3 = a(); this.t3 = a(); this.n31 = a(); this.n32 = a(); this.n33 = a();
    this.c2 = a(); this.t2 = a(); this.n21 = a(); this.n22 = a(); this.n23 = a();
    this.c1 = a();
  }

  /** Mean negative log-likelihood (nats) of the predicted words under these discounts. */
  meanNll(d: KnDiscounts): number {
    validateDiscounts(d);
    return this.trigramNll(d.trigram, this.bigramProbs(d.bigram, this.unigramProbs(d.unigram)));
  }

  /** P1(w_k) per predicted position. */
  unigramProbs(d: DiscountTriple): Float64Array {
    const out = new Float64Array(this.length);
    for (let k = 0; k < this.length; k++) {
      out[k] = interpolate(d, this.c1[k]!, this.t1, this.n11, this.n12, this.n13, 1 / this.V);
    }
    return out;
  }

  /** P2(w_k | v_k) per predicted position, given P1. */
  bigramProbs(d: DiscountTriple, p1: Float64Array): Float64Array {
    const out = new Float64Array(this.length);
    for (let k = 0; k < this.length; k++) {
      out[k] = interpolate(d, this.c2[k]!, this.t2[k]!, this.n21[k]!, this.n22[k]!, this.n23[k]!, p1[k]!);
    }
    return out;
  }

  /** Mean −ln P3(w_k | u_k v_k), given P2. */
  trigramNll(d: DiscountTriple, p2: Float64Array): number {
    let sum = 0;
    for (let k = 0; k < this.length; k++) {
      sum -= Math.log(interpolate(d, this.c3[k]!, this.t3[k]!, this.n31[k]!, this.n32[k]!, this.n33[k]!, p2[k]!));
    }
    return sum / this.length;
  }
}

export interface TuneResult {
  discounts: KnDiscounts;
  validPpl: number;
  evaluations: number;
}

export interface TuneOptions {
  /** "modified": 3 discounts per order (9 parameters); "single": one discount per order (3 parameters). */
  mode?: "modified" | "single";
  /** Coordinate-descent passes over all parameters. */
  passes?: number;
  onPass?: (pass: number, validPpl: number) => void;
}

/**
 * Tune the discounts on a validation split by coordinate descent (golden-section search per discount, within its
 * valid interval), starting from the model's closed-form estimates. Uses only `valid`.
 */
export function tuneDiscounts(model: KneserNeyTrigram, valid: Int32Array, options: TuneOptions = {}): TuneResult {
  const { mode = "modified", passes = 2 } = options;
  const f = model.features(valid);
  // Parameter vector: modified → [tri D1 D2 D3, bi …, uni …]; single → [tri D, bi D, uni D].
  const start = model.discounts;
  let x: number[] = mode === "modified"
    ? [...start.trigram, ...start.bigram, ...start.unigram]
    : [start.trigram[0], start.bigram[0], start.unigram[0]];
  const upper = (i: number): number => (mode === "modified" ? (i % 3) + 1 : 1);
  const toDiscounts = (p: readonly number[]): KnDiscounts => mode === "modified"
    ? { trigram: [p[0]!, p[1]!, p[2]!], bigram: [p[3]!, p[4]!, p[5]!], unigram: [p[6]!, p[7]!, p[8]!] }
    : { trigram: [p[0]!, p[0]!, p[0]!], bigram: [p[1]!, p[1]!, p[1]!], unigram: [p[2]!, p[2]!, p[2]!] };
  let evaluations = 0;
  // While one order's discounts move, the lower orders' probabilities stay fixed: cache them per coordinate.
  const orderOf = (i: number): 0 | 1 | 2 => (mode === "modified" ? Math.floor(i / 3) : i) as 0 | 1 | 2; // 0 tri, 1 bi, 2 uni
  const lossFor = (i: number, base: readonly number[]): ((p: readonly number[]) => number) => {
    const d0 = toDiscounts(base);
    validateDiscounts(d0);
    const order = orderOf(i);
    const p1 = order <= 1 ? f.unigramProbs(d0.unigram) : undefined;
    const p2 = order === 0 ? f.bigramProbs(d0.bigram, p1!) : undefined;
    return (p) => {
      evaluations++;
      const d = toDiscounts(p);
      validateDiscounts(d);
      if (order === 0) return f.trigramNll(d.trigram, p2!);
      if (order === 1) return f.trigramNll(d.trigram, f.bigramProbs(d.bigram, p1!));
      return f.meanNll(d);
    };
  };
  let best = lossFor(0, x)(x);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let pass = 1; pass <= passes; pass++) {
    for (let i = 0; i < x.length; i++) {
      const loss = lossFor(i, x);
      const at = (v: number): number => loss(x.map((xi, j) => (j === i ? v : xi)));
      let lo = 0.01;
      let hi = upper(i);
      let a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
      let fa = at(a), fb = at(b);
      for (let it = 0; it < 16; it++) {
        if (fa < fb) { hi = b; b = a; fb = fa; a = hi - phi * (hi - lo); fa = at(a); }
        else { lo = a; a = b; fa = fb; b = lo + phi * (hi - lo); fb = at(b); }
      }
      const cand = fa < fb ? a : b;
      const fc = Math.min(fa, fb);
      if (fc < best) { best = fc; x = x.map((xi, j) => (j === i ? cand : xi)); }
    }
    options.onPass?.(pass, Math.exp(best));
  }
  return { discounts: toDiscounts(x), validPpl: Math.exp(best), evaluations };
}
