/**
 * The transformer LM's client part (browser-safe): what the user's client computes in plaintext around the miner's
 * encrypted rounds. Files:
 *   <name>.client.json  { format: "cerberus-tx-client/1", embed, shift, width, window, vocabSize, vPad, lowercase,
 *                         tensors: { file, dtype: "float32-le", sha256, layout: [["C", V·embed], ["g0", d], ["b0", d],
 *                         ["rel", window]] }, words: [id order, 0 = "<unk>"] }
 *   <name>.client.bin   the tensors, float32 little-endian, concatenated in `layout` order
 * Per position k of a history: x_k = LN([C[w_{k−s+1}] … C[w_k]])·g0 + b0 (words before the history's start are id 0),
 * the miner's input row; after the scores round the client applies softmax(s_j + rel[k − j]) over the window's rows.
 */
import { z } from "zod";
import { sha256Hex } from "../core/sha256.ts";
import { ModelFileError } from "./client-model.ts";
import { tokenize as corpusTokenize, WordVocabulary } from "./vocab.ts";
import { windowStart } from "./window.ts";

export const TX_CLIENT_FORMAT = "cerberus-tx-client/1";
const LN_EPS = 1e-5;

const Header = z.object({
  format: z.literal(TX_CLIENT_FORMAT),
  embed: z.number().int().min(1).max(4096),
  shift: z.number().int().min(1).max(64),
  width: z.number().int().min(1).max(4096),
  window: z.number().int().min(2).max(4096),
  vocabSize: z.number().int().min(2),
  vPad: z.number().int().min(2),
  lowercase: z.boolean(),
  tensors: z.object({
    file: z.string().min(1),
    dtype: z.literal("float32-le"),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    layout: z.array(z.tuple([z.string(), z.number().int().min(1)])),
  }),
  words: z.array(z.string()),
}).refine((h) => h.words.length === h.vocabSize && h.vPad >= h.vocabSize && h.embed * h.shift === h.width && h.window % 2 === 0,
  "inconsistent transformer client header");
export type TransformerClientHeader = z.infer<typeof Header>;

export interface TransformerClient {
  readonly kind: "transformer";
  readonly width: number;
  readonly window: number;
  readonly vPad: number;
  readonly vocab: WordVocabulary;
  readonly lowercase: boolean;
  tokenize(text: string): string[];
  encode(text: string): number[];
  /** The miner's input row for position k of `history` (a history starting at historyStart). */
  row(history: readonly number[], k: number, historyStart?: number): Float32Array;
  /** The attention window's first position for position k (window.ts). */
  windowStart(k: number): number;
  /** softmax_j(scores[j] + rel[k − (ws + j)]) over the rows j = 0 … k − ws of the window starting at ws. */
  attention(scores: ArrayLike<number>, k: number, ws: number): Float64Array;
  /** The ONNX reference's score bias: rel[k − (ws + j)] for the window's rows, −30000 for empty ones. */
  scoreBias(k: number, ws: number): Float32Array;
}

export const TX_TENSOR_LAYOUT = (V: number, embed: number, width: number, window: number): [string, number][] =>
  [["C", V * embed], ["g0", width], ["b0", width], ["rel", window]];

export function parseTransformerClient(json: string | Uint8Array, bin: Uint8Array, source = "transformer client"): TransformerClient {
  let h: TransformerClientHeader;
  try {
    h = Header.parse(JSON.parse(typeof json === "string" ? json : new TextDecoder().decode(json)));
  } catch (e) {
    throw new ModelFileError("CLIENT_MODEL_INVALID", `cannot load ${source}: ${(e as Error).message}`);
  }
  if (sha256Hex(bin) !== h.tensors.sha256) throw new ModelFileError("CLIENT_MODEL_INVALID", `${source}: tensor file sha256 mismatch`);
  const expected = TX_TENSOR_LAYOUT(h.vocabSize, h.embed, h.width, h.window);
  if (JSON.stringify(expected) !== JSON.stringify(h.tensors.layout)) throw new ModelFileError("CLIENT_MODEL_INVALID", `${source}: unexpected tensor layout`);
  const total = expected.reduce((a, [, n]) => a + n, 0);
  if (bin.byteLength !== total * 4) throw new ModelFileError("CLIENT_MODEL_INVALID", `${source}: tensor file is ${bin.byteLength} bytes, expected ${total * 4}`);
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer);
  const t: Record<string, Float32Array> = {};
  let off = 0;
  for (const [name, n] of expected) { t[name] = all.subarray(off, off + n); off += n; }
  const C = t.C!, g0 = t.g0!, b0 = t.b0!, rel = t.rel!;
  const vocab = new WordVocabulary(h.words);
  const { embed, shift, width: d, window: W, lowercase } = h;
  const tokenize = (text: string) => corpusTokenize(text, { lowercase });
  const checkId = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab.size) throw new ModelFileError("BAD_TOKEN_ID", `token id ${id} out of range`);
  };
  return {
    kind: "transformer", width: d, window: W, vPad: h.vPad, vocab, lowercase, tokenize,
    encode: (text) => tokenize(text).map((w) => vocab.idOf(w)),
    windowStart: (k) => windowStart(k, W),
    row(history, k, historyStart = 0) {
      if (!Number.isInteger(k) || k < historyStart || k >= history.length) throw new ModelFileError("BAD_INPUT", `position ${k} outside the history`);
      const u = new Float64Array(d);
      for (let s = 0; s < shift; s++) {
        const j = k - shift + 1 + s;
        const id = j >= historyStart ? history[j]! : 0;
        checkId(id);
        for (let e = 0; e < embed; e++) u[s * embed + e] = C[id * embed + e]!;
      }
      let mean = 0;
      for (let i = 0; i < d; i++) mean += u[i]!;
      mean /= d;
      let v = 0;
      for (let i = 0; i < d; i++) v += (u[i]! - mean) ** 2;
      const sd = Math.sqrt(v / d + LN_EPS);
      const x = new Float32Array(d);
      for (let i = 0; i < d; i++) x[i] = ((u[i]! - mean) / sd) * g0[i]! + b0[i]!;
      return x;
    },
    attention(scores, k, ws) {
      const n = k - ws + 1;
      if (n < 1 || n > W || scores.length < n) throw new ModelFileError("BAD_INPUT", `a window of ${n} rows`);
      const a = new Float64Array(n);
      let max = -Infinity;
      for (let j = 0; j < n; j++) { a[j] = scores[j]! + rel[k - (ws + j)]!; max = Math.max(max, a[j]!); }
      let zsum = 0;
      for (let j = 0; j < n; j++) { a[j] = Math.exp(a[j]! - max); zsum += a[j]!; }
      for (let j = 0; j < n; j++) a[j] = a[j]! / zsum;
      return a;
    },
    scoreBias(k, ws) {
      const out = new Float32Array(W).fill(-30000);
      for (let j = 0; ws + j <= k; j++) out[j] = rel[k - (ws + j)]!;
      return out;
    },
  };
}
