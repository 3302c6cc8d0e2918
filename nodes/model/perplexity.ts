/**
 * The one perplexity definition every Cerberus LM is scored with (KN trigram, float MLP, squeezed MLP, ONNX).
 *
 *   ppl = exp( −(1/N) · Σ_i ln P(w_i | w_{i−4} … w_{i−1}) )     natural log, over the N predicted words
 *
 * Predicted words: in each split (an id stream), positions FIRST_PREDICTED … length−1. The first FIRST_PREDICTED = 4
 * words (n − 1 for the n = 5 MLP) are context only and are NOT predicted, for every model, so all models are scored
 * on exactly the same words (a trigram simply ignores the two oldest of its 4 context words). Splits are scored on
 * their own, with no context borrowed from the preceding split. The unknown symbol (id 0) is predicted like any word.
 * On the full test split that is 161,192 − 4 = 161,188 predicted words.
 */
import { CerberusError } from "../core/errors.ts";

export class PerplexityError extends CerberusError {}

/** Context words before the first predicted word of each split (n − 1 of the n = 5 MLP). */
export const FIRST_PREDICTED = 4;

/** Numerical slack: a log-probability a hair above 0 (float32 rounding of a probability ≈ 1) is accepted as 0. */
const LOG_PROB_SLACK = 1e-6;

export interface PerplexityResult {
  /** exp of the mean negative log-likelihood (natural log). */
  ppl: number;
  /** Mean negative log-likelihood in nats. */
  meanNll: number;
  /** Number of predicted words. */
  predicted: number;
}

/** Sums natural-log probabilities of predicted words, e.g. batch by batch from a softmax. */
export class PerplexityAccumulator {
  #sumNll = 0;
  #count = 0;

  /** Add ln P(word | context) of one predicted word. */
  add(logProb: number): void {
    if (Number.isNaN(logProb) || logProb > LOG_PROB_SLACK) {
      throw new PerplexityError("BAD_LOG_PROB", `log-probability must be a number ≤ 0, got ${logProb}`);
    }
    if (logProb === -Infinity) {
      throw new PerplexityError("ZERO_PROBABILITY", "the model gave a predicted word probability 0 (infinite perplexity)");
    }
    this.#sumNll -= Math.min(logProb, 0);
    this.#count++;
  }

  addAll(logProbs: ArrayLike<number>): void {
    for (let i = 0; i < logProbs.length; i++) this.add(logProbs[i]!);
  }

  get predicted(): number {
    return this.#count;
  }

  result(): PerplexityResult {
    if (this.#count === 0) throw new PerplexityError("NOTHING_PREDICTED", "perplexity of zero predicted words");
    const meanNll = this.#sumNll / this.#count;
    return { ppl: Math.exp(meanNll), meanNll, predicted: this.#count };
  }
}

/** Positions of a split of `length` words that are predicted: [FIRST_PREDICTED, length). */
export function predictedRange(length: number): { start: number; end: number } {
  if (!Number.isInteger(length) || length <= FIRST_PREDICTED) {
    throw new PerplexityError("SPLIT_TOO_SHORT", `a split needs more than ${FIRST_PREDICTED} words, got ${length}`);
  }
  return { start: FIRST_PREDICTED, end: length };
}

/**
 * Perplexity of a model over an id stream. `logProbAt(i)` returns ln P(ids[i] | ids[0 … i−1]) (the model reads as
 * much of the preceding context as it uses); it is called for every predicted position i in order.
 */
export function streamPerplexity(ids: Int32Array, logProbAt: (i: number) => number): PerplexityResult {
  const { start, end } = predictedRange(ids.length);
  const acc = new PerplexityAccumulator();
  for (let i = start; i < end; i++) acc.add(logProbAt(i));
  return acc.result();
}
