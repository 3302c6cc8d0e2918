/**
 * The generation regime: text scored with the history a user's client actually holds. A user types a prompt of 3–12
 * words and generates up to 48 more, so a client never conditions on more than 59 words, and it never sees the
 * document the words came from. Scoring a split as one long stream (perplexity.ts) gives every model up to the whole
 * split as history; a history-hungry part of a model (a cache of the words so far) looks better there than users ever
 * see.
 *
 * Definition (one per split, deterministic from `seed`): the split is cut into consecutive segments of `generated`
 * predicted words each. Segment k predicts positions [e_{k−1}, e_k) with e_k = e_{k−1} + generated (the last one may be
 * shorter), and conditions on a prompt of L_k words immediately before it, L_k uniform in [promptMin, promptMax] —
 * history for position i = the words from e_{k−1} − L_k up to i − 1, never anything older. Every position from
 * e_0 = L_0 on is predicted exactly once, so all models are scored on the same words; a position's history length is
 * L_k + (i − e_{k−1}) ∈ [promptMin, promptMax + generated − 1].
 */
import { createRng } from "../core/prng.ts";
import { PerplexityAccumulator, PerplexityError, type PerplexityResult } from "./perplexity.ts";

export interface GenerationRegime {
  promptMin: number;
  promptMax: number;
  generated: number;
  seed: number;
}

export const GENERATION_REGIME: GenerationRegime = { promptMin: 3, promptMax: 12, generated: 48, seed: 2026 };

/**
 * For each position i of a split of `length` words, the first position of the history the client holds when it
 * predicts i, or −1 when i is not predicted (the first segment's prompt).
 */
export function generationHistoryStarts(length: number, regime: GenerationRegime = GENERATION_REGIME): Int32Array {
  const { promptMin, promptMax, generated } = regime;
  if (!(Number.isInteger(promptMin) && Number.isInteger(promptMax) && Number.isInteger(generated)) || promptMin < 1
    || promptMax < promptMin || generated < 1) {
    throw new PerplexityError("BAD_REGIME", `bad generation regime ${JSON.stringify(regime)}`);
  }
  const rng = createRng(regime.seed);
  const from = new Int32Array(length).fill(-1);
  const prompt = () => promptMin + rng.int(promptMax - promptMin + 1);
  let end = prompt();
  if (end >= length) throw new PerplexityError("SPLIT_TOO_SHORT", `a split of ${length} words holds no generation segment`);
  // The first segment's prompt is the split's first L_0 words; later prompts end where the previous segment ended.
  let start = 0;
  while (end < length) {
    const stop = Math.min(length, end + generated);
    for (let i = end; i < stop; i++) from[i] = start;
    const next = prompt();
    start = stop - next;
    end = stop;
  }
  return from;
}

/** Histories in the regime: position i conditions on ids[from[i] … i−1] (the array above, −1 = not predicted). */
export function regimePerplexity(from: Int32Array, logProbAt: (i: number, historyStart: number) => number): PerplexityResult {
  const acc = new PerplexityAccumulator();
  for (let i = 0; i < from.length; i++) if (from[i]! >= 0) acc.add(logProbAt(i, from[i]!));
  return acc.result();
}

/** Number of predicted positions (from[i] ≥ 0). */
export function regimePredicted(from: Int32Array): number {
  let n = 0;
  for (const f of from) if (f >= 0) n++;
  return n;
}
