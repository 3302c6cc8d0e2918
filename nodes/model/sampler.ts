/**
 * How a client turns a next-word distribution into a word (browser-safe), and the text statistics the sampler is chosen
 * by. The distribution actually sampled is
 *
 *   q(w) ∝ P(w)^(1/T)   over the words not excluded (the unknown symbol), the `topK` most likely (null = all),
 *                       then the smallest most-likely set holding `topP` of the remaining mass (1 = all),
 *
 * where P is the model's distribution after the client mixture (mixture.ts). The settings ship per model in
 * <name>.mixture.json (`sampler`), chosen by `npm run train` on validation prompts (nodes/train/sampler-fit.ts) and
 * re-measured on test prompts by `npm run bench:sampler`.
 */
import { CerberusError } from "../core/errors.ts";
import type { Rng } from "../core/prng.ts";
import { temper, type SamplerSettings } from "./mixture.ts";

export type { SamplerSettings };

/** What generate used before the settings were chosen per model (T 0.8, top-k 40). */
export const LEGACY_SAMPLER: SamplerSettings = { temperature: 0.8, topK: 40, topP: 1 };

/** The distribution sampled from (length V, sums to 1, zero outside the kept set). */
export function samplingDistribution(p: Float64Array, s: SamplerSettings, exclude: readonly number[] = []): Float64Array {
  const q = temper(p, s.temperature);
  const out = q === p ? p.slice() : q;
  for (const e of exclude) out[e] = 0;
  let kept = s.topK === null || s.topK >= out.length ? out : topKOnly(out, s.topK);
  if (s.topP < 1) kept = topPOnly(kept, s.topP);
  let z = 0;
  for (let i = 0; i < kept.length; i++) z += kept[i]!;
  if (!(z > 0)) throw new CerberusError("BAD_INPUT", "nothing left to sample");
  for (let i = 0; i < kept.length; i++) kept[i]! /= z;
  return kept;
}

/** Draws an index from a distribution that sums to 1. */
export function draw(q: Float64Array, rng: Rng): number {
  let u = rng.next();
  let last = -1;
  for (let i = 0; i < q.length; i++) {
    if (q[i]! <= 0) continue;
    last = i;
    u -= q[i]!;
    if (u <= 0) return i;
  }
  if (last < 0) throw new CerberusError("BAD_INPUT", "nothing to sample");
  return last;
}

/** Keeps the k largest probabilities (ties broken by id), zeroes the rest (not renormalised). */
export function topKOnly(probs: Float64Array, k: number): Float64Array {
  if (k >= probs.length) return probs;
  // The k-th largest value, from the k largest kept in ascending order (one pass; sorting all 14k costs ~5 ms a word).
  const top: number[] = [];
  for (let i = 0; i < probs.length; i++) {
    const v = probs[i]!;
    if (top.length === k) {
      if (v <= top[0]!) continue;
      top.shift();
    }
    let j = top.length;
    while (j > 0 && top[j - 1]! > v) j--;
    top.splice(j, 0, v);
  }
  const threshold = top[0]!;
  const out = new Float64Array(probs.length);
  let kept = 0;
  for (let i = 0; i < probs.length && kept < k; i++) {
    if (probs[i]! >= threshold) { out[i] = probs[i]!; kept++; }
  }
  return out;
}

/** Keeps the smallest set of most likely words whose mass reaches `p` of the total (not renormalised). */
export function topPOnly(probs: Float64Array, p: number): Float64Array {
  let total = 0;
  const idx: number[] = [];
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0) { idx.push(i); total += probs[i]!; }
  idx.sort((a, b) => probs[b]! - probs[a]! || a - b);
  const out = new Float64Array(probs.length);
  let acc = 0;
  for (const i of idx) {
    out[i] = probs[i]!;
    acc += probs[i]!;
    if (acc >= p * total) break;
  }
  return out;
}

/**
 * Words a repeat of which says nothing about degeneration: punctuation and the commonest function words. `<unk>` counts
 * as a content word (as it always has here); a sampler never emits it, so only real text's figure contains its repeats
 * (`textStats(…, { unkAsContent: false })` leaves it out).
 */
const FUNCTION_WORDS = new Set(["the", "of", "and", "a", "to", "in", "is", "that", "it", "was", "for", "he", "as", "with", "on"]);
export const isContentWord = (w: string): boolean => !FUNCTION_WORDS.has(w.toLowerCase()) && /[A-Za-z0-9]/.test(w);
/** The repetition window: a content word already among the previous 10 words is a repeat. */
export const REPEAT_WINDOW = 10;

export interface TextStats {
  /** Content words that already occurred among the previous REPEAT_WINDOW words (context included), in %. */
  repeatPct: number;
  /** Distinct bigrams / bigrams over the continuations. */
  distinct2: number;
  words: number;
}

/** Over continuations (each text = its preceding context, then the continuation from `from` on). */
export function textStats(texts: readonly { words: readonly string[]; from: number }[], opts: { unkAsContent?: boolean } = {}): TextStats {
  const content = opts.unkAsContent === false ? (w: string) => w !== "<unk>" && isContentWord(w) : isContentWord;
  let repeats = 0;
  let contentWords = 0;
  let bigrams = 0;
  let words = 0;
  const seen = new Set<string>();
  for (const { words: ws, from } of texts) {
    for (let i = from; i < ws.length; i++) {
      words++;
      if (content(ws[i]!)) {
        contentWords++;
        if (ws.slice(Math.max(0, i - REPEAT_WINDOW), i).includes(ws[i]!)) repeats++;
      }
      if (i > from) { bigrams++; seen.add(`${ws[i - 1]} ${ws[i]}`); }
    }
  }
  return { repeatPct: +(100 * repeats / Math.max(1, contentWords)).toFixed(1), distinct2: +(seen.size / Math.max(1, bigrams)).toFixed(3), words };
}
