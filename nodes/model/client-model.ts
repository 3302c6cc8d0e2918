/**
 * The browser-safe half of the LM's client part: the client model parsed from the bytes of <name>.client.json and
 * <name>.client.bin (however they were fetched: file system on Node, HTTP in the dashboard), softmax and sampling.
 * File layout: see lm.ts.
 */
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { tokenize as corpusTokenize, WordVocabulary } from "./vocab.ts";
import type { Rng } from "../core/prng.ts";

export class ModelFileError extends CerberusError {}

const ClientHeader = z.object({
  format: z.literal("cerberus-lm-client/1"),
  n: z.number().int().min(2),
  embed: z.number().int().min(1),
  vocabSize: z.number().int().min(2),
  vPad: z.number().int().min(2),
  lowercase: z.boolean(),
  embeddings: z.object({
    file: z.string().min(1),
    dtype: z.literal("float32-le"),
    shape: z.tuple([z.number().int(), z.number().int()]),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  words: z.array(z.string()),
}).refine((h) => h.words.length === h.vocabSize && h.embeddings.shape[0] === h.vocabSize && h.embeddings.shape[1] === h.embed
  && h.vPad >= h.vocabSize, "inconsistent client header");
export type ClientHeader = z.infer<typeof ClientHeader>;

export interface ClientModel {
  readonly n: number;
  readonly embed: number;
  readonly vPad: number;
  readonly vocab: WordVocabulary;
  readonly lowercase: boolean;
  readonly embeddings: Float32Array; // [V, embed]
  /** Brown-style tokens of free text (same normalisation as the corpus). */
  tokenize(text: string): string[];
  /** Word ids of free text (unknown words → 0). */
  encode(text: string): number[];
  /** Miner input x (length (n−1)·embed) for the last n−1 ids of `context`; missing history is padded with id 0. */
  contextInput(context: readonly number[]): Float32Array;
}

export function parseClientModel(json: string | Uint8Array, bin: Uint8Array, source = "client model"): ClientModel {
  let header: ClientHeader;
  try {
    header = ClientHeader.parse(JSON.parse(typeof json === "string" ? json : new TextDecoder().decode(json)));
  } catch (e) {
    throw new ModelFileError("CLIENT_MODEL_INVALID", `cannot load ${source}: ${(e as Error).message}`);
  }
  if (sha256Hex(bin) !== header.embeddings.sha256) throw new ModelFileError("CLIENT_MODEL_INVALID", "embedding table sha256 mismatch");
  if (bin.byteLength !== header.vocabSize * header.embed * 4) throw new ModelFileError("CLIENT_MODEL_INVALID", "embedding table size mismatch");
  const embeddings = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer);
  const vocab = new WordVocabulary(header.words);
  const { n, embed, lowercase } = header;
  const tokenize = (text: string) => corpusTokenize(text, { lowercase });
  return {
    n, embed, vPad: header.vPad, vocab, lowercase, embeddings, tokenize,
    encode: (text) => tokenize(text).map((w) => vocab.idOf(w)),
    contextInput(context) {
      const x = new Float32Array((n - 1) * embed);
      for (let k = 0; k < n - 1; k++) {
        const j = context.length - (n - 1) + k;
        const id = j >= 0 ? context[j] : 0;
        if (!Number.isInteger(id) || id < 0 || id >= vocab.size) throw new ModelFileError("BAD_TOKEN_ID", `token id ${id} out of range`);
        x.set(embeddings.subarray(id * embed, id * embed + embed), k * embed);
      }
      return x;
    },
  };
}

/** Softmax over the first `vocab` logits (padding dropped), float64 for a stable normaliser. */
export function softmax(logits: ArrayLike<number>, vocab: number, temperature = 1): Float64Array {
  if (!(temperature > 0)) throw new ModelFileError("BAD_INPUT", "temperature must be > 0");
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(vocab);
  let z = 0;
  for (let i = 0; i < vocab; i++) { p[i] = Math.exp((logits[i] - max) / temperature); z += p[i]; }
  for (let i = 0; i < vocab; i++) p[i] /= z;
  return p;
}

/** Draws an id from a probability vector; `exclude` (e.g. the unknown symbol) gets zero mass. */
export function sample(probs: Float64Array, rng: Rng, exclude: readonly number[] = []): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) if (!exclude.includes(i)) total += probs[i];
  let u = rng.next() * total;
  for (let i = 0; i < probs.length; i++) {
    if (exclude.includes(i)) continue;
    u -= probs[i];
    if (u <= 0) return i;
  }
  for (let i = probs.length - 1; i >= 0; i--) if (!exclude.includes(i)) return i;
  throw new ModelFileError("BAD_INPUT", "nothing to sample");
}

export function argmax(values: ArrayLike<number>, upTo = values.length): number {
  let best = 0;
  for (let i = 1; i < upTo; i++) if (values[i] > values[best]) best = i;
  return best;
}
