import { CerberusError } from "../core/errors.ts";

/**
 * The user workload model (docs/PROTOCOL.md, "User workload model"): what one user session looks like to a miner.
 * ONE module, used both by validators to shape their probe sessions and by the benchmarks' simulated users, so
 * that probes are drawn from exactly the users' distribution: any change to one changes the other.
 *
 * A session is one `generate` call from a fresh libp2p identity (as `cerberus generate` does):
 * - length: words ~ round(exp(N(ln medianWords, sigma²))) clamped to [1, maxWords] (a discrete log-normal: most
 *   requests are short, a few are long);
 * - think time: with probability `interactiveShare` the user steps word by word (next-word suggestions) and pauses
 *   before each word after the first for Exp(meanThinkMs); otherwise the words stream back to back;
 * - arrivals: sessions arrive as a Poisson process, so given how many start in a window their start times are
 *   independent and uniform over it — spread over the whole epoch, never bunched at its start.
 */
export interface WorkloadModel {
  medianWords: number;
  sigma: number;
  maxWords: number;
  interactiveShare: number;
  meanThinkMs: number;
}

/** The network's model (docs/PROTOCOL.md). */
export const USER_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  medianWords: 8, sigma: 0.75, maxWords: 48, interactiveShare: 0.25, meanThinkMs: 1_500,
});

/**
 * The same shape with short sessions and think times, for demos, benchmarks and tests on 2 cores (time
 * compression: every probe and every simulated user draws from it alike).
 */
export const COMPRESSED_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  medianWords: 2, sigma: 0.6, maxWords: 6, interactiveShare: 0.25, meanThinkMs: 300,
});

export interface SessionShape {
  words: number;
  /** Pause before each word (index 0 is always 0). */
  thinkMs: number[];
}

export function validateWorkload(w: WorkloadModel): WorkloadModel {
  const ok = w.medianWords >= 1 && w.sigma >= 0 && Number.isInteger(w.maxWords) && w.maxWords >= 1 &&
    w.interactiveShare >= 0 && w.interactiveShare <= 1 && w.meanThinkMs >= 0;
  if (!ok) throw new CerberusError("BAD_WORKLOAD", `invalid workload model ${JSON.stringify(w)}`);
  return w;
}

/** One standard normal draw (Box–Muller) from a uniform source. */
function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function sampleSession(w: WorkloadModel, random: () => number = Math.random): SessionShape {
  const words = Math.min(w.maxWords, Math.max(1, Math.round(Math.exp(Math.log(w.medianWords) + w.sigma * normal(random)))));
  const interactive = random() < w.interactiveShare;
  const thinkMs = Array.from({ length: words }, (_, i) =>
    i === 0 || !interactive ? 0 : Math.round(-Math.log(Math.max(random(), 1e-12)) * w.meanThinkMs));
  return { words, thinkMs };
}

/** `count` session start offsets in [0, windowMs): a Poisson process conditioned on its count, sorted. */
export function sampleArrivals(count: number, windowMs: number, random: () => number = Math.random): number[] {
  if (!Number.isInteger(count) || count < 0 || !(windowMs >= 0)) {
    throw new CerberusError("BAD_WORKLOAD", `cannot place ${count} arrivals in ${windowMs} ms`);
  }
  return Array.from({ length: count }, () => random() * windowMs).sort((a, b) => a - b);
}
