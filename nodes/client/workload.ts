import { CerberusError } from "../core/errors.ts";

/**
 * The user workload model (docs/PROTOCOL.md, "User workload model"): what one user session looks like to a miner.
 * ONE module, used both by validators to shape their probe sessions and by the benchmarks' simulated users, so
 * that probes are drawn from exactly the users' distribution: any change to one changes the other.
 *
 * It describes the clients we ship, as a mixture of what each one does (one session = one `generate` call):
 * - `fixed`: the shipped clients' default lengths — `cerberus generate` asks for 20 words, the dashboard's Generate
 *   page for 10 — streamed back to back (neither ever pauses) from a fresh libp2p identity (each run or page
 *   generation creates its node). Each entry is drawn with its `share`.
 * - otherwise an application on the SDK: words ~ round(exp(N(ln medianWords, sigma²))) clamped to [1, maxWords] (a
 *   discrete log-normal: most requests are short, a few are long); with probability `interactiveShare` the user steps
 *   word by word (next-word suggestions) and pauses before each word after the first for Exp(meanThinkMs), otherwise
 *   the words stream; with probability `reuse.share` the app keeps its node (identity) for its sessions, a geometric
 *   number of them with mean `reuse.meanSessions` (nodes/client/identities.ts).
 * - arrivals: sessions arrive as a Poisson process, so given how many start in a window their start times are
 *   independent and uniform over it.
 */
export interface WorkloadModel {
  medianWords: number;
  sigma: number;
  maxWords: number;
  interactiveShare: number;
  meanThinkMs: number;
  /** Fixed-length requests (the shipped clients' defaults), each with its share of all sessions; they stream. */
  fixed: readonly { words: number; share: number }[];
  /** SDK apps that keep one identity for several sessions: their share of the non-fixed sessions, and how many. */
  reuse: { share: number; meanSessions: number };
}

/** Words `cerberus generate` asks for unless told (--words). */
export const CLI_DEFAULT_WORDS = 20;
/** Words the dashboard's Generate page asks for unless changed. */
export const DASHBOARD_DEFAULT_WORDS = 10;

/** The network's model (docs/PROTOCOL.md). */
export const USER_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  medianWords: 8, sigma: 0.75, maxWords: 48, interactiveShare: 0.25, meanThinkMs: 1_500,
  fixed: [{ words: CLI_DEFAULT_WORDS, share: 0.3 }, { words: DASHBOARD_DEFAULT_WORDS, share: 0.15 }],
  reuse: { share: 0.3, meanSessions: 5 },
});

/**
 * The same shape with short sessions and think times, for demos, benchmarks and tests on 2 cores (time
 * compression: every probe and every simulated user draws from it alike).
 */
export const COMPRESSED_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  medianWords: 2, sigma: 0.6, maxWords: 6, interactiveShare: 0.25, meanThinkMs: 300,
  fixed: [{ words: 5, share: 0.3 }, { words: 3, share: 0.15 }],
  reuse: { share: 0.3, meanSessions: 5 },
});

export interface SessionShape {
  words: number;
  /** Pause before each word (index 0 is always 0). */
  thinkMs: number[];
  /** Which client the session stands for: a shipped client's fixed default, or an SDK app. */
  kind: "fixed" | "app";
  /** The session comes from an identity kept for several sessions (an SDK app that reuses its node). */
  reuseIdentity: boolean;
}

export function validateWorkload(w: WorkloadModel): WorkloadModel {
  const ok = w.medianWords >= 1 && w.sigma >= 0 && Number.isInteger(w.maxWords) && w.maxWords >= 1 &&
    w.interactiveShare >= 0 && w.interactiveShare <= 1 && w.meanThinkMs >= 0 &&
    w.fixed.every((f) => Number.isInteger(f.words) && f.words >= 1 && f.words <= w.maxWords && f.share >= 0) &&
    w.fixed.reduce((a, f) => a + f.share, 0) <= 1 &&
    w.reuse.share >= 0 && w.reuse.share <= 1 && w.reuse.meanSessions >= 1;
  if (!ok) throw new CerberusError("BAD_WORKLOAD", `invalid workload model ${JSON.stringify(w)}`);
  return w;
}

/** One standard normal draw (Box–Muller) from a uniform source. */
function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export function sampleSession(w: WorkloadModel, random: () => number = Math.random): SessionShape {
  let r = random();
  for (const f of w.fixed) {
    if (r < f.share) return { words: f.words, thinkMs: new Array<number>(f.words).fill(0), kind: "fixed", reuseIdentity: false };
    r -= f.share;
  }
  const words = Math.min(w.maxWords, Math.max(1, Math.round(Math.exp(Math.log(w.medianWords) + w.sigma * normal(random)))));
  const interactive = random() < w.interactiveShare;
  const thinkMs = Array.from({ length: words }, (_, i) =>
    i === 0 || !interactive ? 0 : Math.round(-Math.log(Math.max(random(), 1e-12)) * w.meanThinkMs));
  return { words, thinkMs, kind: "app", reuseIdentity: random() < w.reuse.share };
}

/**
 * The next arrival of a Poisson process of `ratePerMs` (an exponential gap): probes are started one after another
 * this way for as long as the validator runs, so every moment of every epoch is as likely to see one.
 */
export function nextArrivalMs(ratePerMs: number, random: () => number = Math.random): number {
  if (!(ratePerMs > 0)) throw new CerberusError("BAD_WORKLOAD", `arrival rate must be positive, got ${ratePerMs}`);
  return -Math.log(Math.max(random(), 1e-12)) / ratePerMs;
}

/** `count` session start offsets in [0, windowMs): a Poisson process conditioned on its count, sorted. */
export function sampleArrivals(count: number, windowMs: number, random: () => number = Math.random): number[] {
  if (!Number.isInteger(count) || count < 0 || !(windowMs >= 0)) {
    throw new CerberusError("BAD_WORKLOAD", `cannot place ${count} arrivals in ${windowMs} ms`);
  }
  return Array.from({ length: count }, () => random() * windowMs).sort((a, b) => a - b);
}
