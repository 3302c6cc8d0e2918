import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { tokenize as corpusTokenize, WordVocabulary } from "./corpus.ts";
import { parseMinerOnnx, type MinerModel } from "./onnx-export.ts";
import type { Rng } from "./prng.ts";

/**
 * The two halves of the deployed LM and a plaintext forward pass in TypeScript.
 *
 * Client part, two files (the client never sends them anywhere):
 *   <name>.client.json  { format: "cerberus-lm-client/1", n, embed, vocabSize, vPad, lowercase, embeddings:
 *                         { file, dtype: "float32-le", shape: [V, embed], sha256 }, words: [...] }  (words in id
 *                         order, id 0 = "<unk>")
 *   <name>.client.bin   the embedding table, float32 little-endian, row-major [V, embed]
 * Miner part: <name>.onnx (see onnx-export.ts). The client builds x = concat(C[w_{t−n+1}] … C[w_{t−1}]) (oldest
 * first), the miner computes logits, the client drops logits ≥ V and applies the softmax.
 */
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

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

export function writeClientModel(jsonPath: string, words: readonly string[], n: number, embed: number, vPad: number,
  embeddings: Float32Array, lowercase: boolean): { json: Uint8Array; bin: Uint8Array } {
  const bin = new Uint8Array(embeddings.buffer.slice(embeddings.byteOffset, embeddings.byteOffset + embeddings.byteLength));
  const binName = basename(jsonPath).replace(/\.json$/, "") + ".bin";
  const header: ClientHeader = {
    format: "cerberus-lm-client/1", n, embed, vocabSize: words.length, vPad, lowercase,
    embeddings: { file: binName, dtype: "float32-le", shape: [words.length, embed], sha256: sha256Hex(bin) },
    words: [...words],
  };
  const json = new TextEncoder().encode(JSON.stringify(header) + "\n");
  writeFileSync(jsonPath, json);
  writeFileSync(join(dirname(jsonPath), binName), bin);
  return { json, bin };
}

export function loadClientModel(jsonPath: string): ClientModel {
  let header: ClientHeader;
  try {
    header = ClientHeader.parse(JSON.parse(readFileSync(jsonPath, "utf8")));
  } catch (e) {
    throw new ModelFileError("CLIENT_MODEL_INVALID", `cannot load client model ${jsonPath}: ${(e as Error).message}`);
  }
  const bin = readFileSync(join(dirname(jsonPath), header.embeddings.file));
  if (sha256Hex(bin) !== header.embeddings.sha256) throw new ModelFileError("CLIENT_MODEL_INVALID", "embedding table sha256 mismatch");
  if (bin.byteLength !== header.vocabSize * header.embed * 4) throw new ModelFileError("CLIENT_MODEL_INVALID", "embedding table size mismatch");
  const embeddings = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
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

export function loadMinerModel(onnxPath: string, vocab: number): { model: MinerModel; bytes: Uint8Array; sha256: string } {
  const bytes = new Uint8Array(readFileSync(onnxPath));
  return { model: parseMinerOnnx(bytes, vocab), bytes, sha256: sha256Hex(bytes) };
}

/** Plaintext reference of the miner part: logits [vPad] (float64 accumulation, float32 result). */
export function minerForward(m: MinerModel, x: Float32Array): Float32Array {
  if (x.length !== m.input) throw new ModelFileError("BAD_INPUT", `x has ${x.length} values, expected ${m.input}`);
  const a = new Float64Array(m.hidden);
  for (let j = 0; j < m.hidden; j++) {
    let h = m.b1[j];
    for (let k = 0; k < m.input; k++) h += x[k] * m.W1[k * m.hidden + j];
    a[j] = m.c[0] + m.c[1] * h + m.c[2] * h * h;
  }
  const out = new Float64Array(m.b2);
  for (let j = 0; j < m.hidden; j++) {
    const aj = a[j], row = j * m.vPad;
    for (let o = 0; o < m.vPad; o++) out[o] += aj * m.W2[row + o];
  }
  return Float32Array.from(out);
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
