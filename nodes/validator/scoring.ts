import { median } from "../core/stats.ts";

/**
 * How a validator turns one epoch of challenge outcomes into on-chain weights. Pure functions, so the rule is
 * testable on its own and identical in every validator.
 *
 * Per miner, two kinds of failure are kept apart:
 *  - a WRONG answer: the miner answered and the decrypted logits are off the plaintext reference by more than the FHE
 *    error bound (max |error| > tolerance·range, or not finite). An honest miner never produces one — the CKKS error is
 *    bounded far below the tolerance — so one wrong answer in a window sets the miner's score to 0 (weight 0 from this
 *    validator), and the validator keeps it at 0 for `penaltyWindows` more windows (agent.ts);
 *  - NO answer (refused, timed out, failed over, a voided health claim): soft, it only lowers accuracy, because a
 *    busy or restarting honest miner produces it too.
 * accuracy = fraction of challenges with the right top-1 word AND max |error| ≤ tolerance·range (an unanswered one
 * counts against it; a top-1 flip within the error bound — a near tie — costs accuracy but is not a wrong answer).
 * latency factor = min(1, targetMs / median ms). score = accuracy² × (1 − latencyWeight + latencyWeight × latency
 * factor), or 0 after a wrong answer.
 * Accuracy dominates on purpose: a wrong answer costs a user far more than a slow one, and latency measured from
 * one validator's seat is noisy (its own load, its network path), so latency only separates miners that are
 * equally correct — by at most `latencyWeight` (default 20%). Squaring accuracy keeps a miner that cheats on one
 * challenge in eight (0.875² ≈ 0.77) below an always-correct but slow one (≥ 0.8). Weights are the scores scaled so
 * the best miner gets 65,535; the chain row-normalises them anyway.
 */
export interface ChallengeOutcome {
  /** The miner answered (a reply that decrypted to the right shape). */
  answered: boolean;
  /** Top-1 of the decrypted logits equals the plaintext reference's top-1. */
  top1Match: boolean;
  /**
   * max |decrypted − reference| over the logits, relative to the reference's range (max − min); for a round plan the
   * largest such error over every value a round returned (`roundValueError`).
   */
  maxRelError: number;
  ms: number;
}

/** `n` challenges the miner did no work for (not opened, refused, failed, or a session voided): each a wrong one. */
export function unanswered(n: number): ChallengeOutcome[] {
  return Array.from({ length: n }, () => ({ answered: false, top1Match: false, maxRelError: Infinity, ms: 0 }));
}

export interface MinerScore {
  uid: number;
  challenges: number;
  answered: number;
  correct: number;
  medianMs: number;
  /** Answers off the reference beyond the error bound (each one alone zeroes the score). */
  wrong: number;
  accuracy: number;
  latencyFactor: number;
  score: number;
}

export interface ScoringRule {
  /** Largest accepted relative error of a logit vector (default 1e-3, the FHE engine's acceptance bound). */
  tolerance: number;
  /** Latency that earns the full latency factor (default 1,500 ms, DESIGN.md's per-token target). */
  targetMs: number;
  /** Share of the score that depends on latency (default 0.2). */
  latencyWeight: number;
}

export const DEFAULT_SCORING: ScoringRule = { tolerance: 1e-3, targetMs: 1_500, latencyWeight: 0.2 };

/**
 * A round plan's tolerance (the transformer's), on the measure of `roundValueError` (challenge.ts: the error over
 * max(range, magnitude, 1)). `npm run bench:tolerance` measures the honest error with fresh keys for every session,
 * as users and probes have them (bench/results/tolerance-*.json): on the test transformer, over 120 keys, median
 * 6.8e-4 and largest 3.3e-3 (the error moves about 5× from key to key); on the shipped brown-tx, largest 1.9e-3 over
 * 24 keys; in the probe bench on the test transformer (bench/results/probes-tx-large.json, load up to 6.6), largest
 * 4.2e-3 over 534 steps. 2e-2 keeps a margin of about 5 over the largest honest error seen, because one wrong answer
 * zeroes a miner for two windows. It costs nothing in detection: scores and logits are
 * softmax inputs, so an error of 2e-2 moves no probability the user sees by more than 4%, and every cheat we know —
 * a replayed or reordered ciphertext, another query's values, garbage — is off by the values' own size.
 */
export const ROUND_PLAN_TOLERANCE = 2e-2;

/**
 * The scoring rule for a Brain's model family. Every judgement takes its rule explicitly: a default would be the MLP's,
 * and a transformer judged by it calls honest answers wrong.
 */
export function scoringFor(kind: "mlp" | "transformer", base: ScoringRule = DEFAULT_SCORING): ScoringRule {
  return kind === "transformer" ? { ...base, tolerance: Math.max(base.tolerance, ROUND_PLAN_TOLERANCE) } : base;
}

export function isCorrect(o: ChallengeOutcome, rule: ScoringRule): boolean {
  return o.answered && o.top1Match && o.maxRelError <= rule.tolerance;
}

/** An answer that cannot come from an honest miner: off the reference beyond the FHE error bound. */
export function isWrong(o: ChallengeOutcome, rule: ScoringRule): boolean {
  return o.answered && !(o.maxRelError <= rule.tolerance);
}

export function scoreMiner(uid: number, outcomes: readonly ChallengeOutcome[], rule: ScoringRule): MinerScore {
  const answered = outcomes.filter((o) => o.answered);
  const wrong = outcomes.filter((o) => isWrong(o, rule)).length;
  const correct = outcomes.filter((o) => isCorrect(o, rule)).length;
  const medianMs = median(answered.map((o) => o.ms));
  const accuracy = outcomes.length === 0 ? 0 : correct / outcomes.length;
  const latencyFactor = answered.length === 0 ? 0 : Math.min(1, rule.targetMs / Math.max(medianMs, 1e-9));
  return {
    uid, challenges: outcomes.length, answered: answered.length, correct, medianMs, wrong, accuracy, latencyFactor,
    score: wrong > 0 ? 0 : accuracy * accuracy * (1 - rule.latencyWeight + rule.latencyWeight * latencyFactor),
  };
}

/** uint16 weights for the reveal: uids ascending, zero-score miners left out; empty if every score is zero. */
export function toWeights(scores: readonly MinerScore[]): { uids: number[]; weights: number[] } {
  const best = Math.max(0, ...scores.map((s) => s.score));
  if (best <= 0) return { uids: [], weights: [] };
  const rows = scores
    .map((s) => ({ uid: s.uid, weight: Math.round((s.score / best) * 65_535) }))
    .filter((r) => r.weight > 0)
    .sort((a, b) => a.uid - b.uid);
  return { uids: rows.map((r) => r.uid), weights: rows.map((r) => r.weight) };
}

