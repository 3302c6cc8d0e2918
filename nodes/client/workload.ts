import { CerberusError } from "../core/errors.ts";

/**
 * The user workload model (docs/PROTOCOL.md, "User workload model"): what users ask for, and what a miner sees of it.
 * ONE module, used by every client we ship (`generate` shapes each request with it), by validators for their probes
 * and by the benchmarks' simulated users: any change to one changes the others.
 *
 * - **Requests** (what a person or an app asks for): `requests.fixed` are the shipped clients' defaults —
 *   `cerberus generate` asks for 20 words, the dashboard's Generate page for 10 — each with its share; otherwise an
 *   application's request, a discrete log-normal: round(exp(N(ln median, sigma²))) clamped to [1, maxWords]. Probes
 *   draw their requests from here. Users ask for whatever they like: the wire does not depend on it except through
 *   how many sessions a request takes.
 * - **Sessions** (what goes on the wire): the client splits every request into sessions whose lengths are drawn
 *   i.i.d. from `session` until they cover the request, and pads the last with steps whose words it discards
 *   (`shapeRequest`). By Wald's identity the lengths of the sessions miners see are distributed exactly as
 *   `session`, whatever users ask for. Each session has a fresh identity and fresh keys, runs its own choice of
 *   miner, and streams its steps back to back (an app reads at its own pace from what has arrived).
 * - **Arrivals**: requests arrive as a Poisson process, so given how many start in a window their start times are
 *   independent and uniform over it.
 */
export interface LengthModel {
  medianWords: number;
  sigma: number;
  maxWords: number;
}

export interface WorkloadModel {
  /** The length of every session on the wire. */
  session: LengthModel;
  /** What users ask for: the shipped clients' defaults with their shares, else an app's request. */
  requests: { fixed: readonly { words: number; share: number }[]; app: LengthModel };
}

/** Words `cerberus generate` asks for unless told (--words). */
export const CLI_DEFAULT_WORDS = 20;
/** Words the dashboard's Generate page asks for unless changed. */
export const DASHBOARD_DEFAULT_WORDS = 10;

/** The network's model (docs/PROTOCOL.md). */
export const USER_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  session: { medianWords: 8, sigma: 0.75, maxWords: 48 },
  requests: {
    fixed: [{ words: CLI_DEFAULT_WORDS, share: 0.3 }, { words: DASHBOARD_DEFAULT_WORDS, share: 0.15 }],
    app: { medianWords: 8, sigma: 0.75, maxWords: 48 },
  },
});

/**
 * The same shape with short sessions, for demos, benchmarks and tests on 2 cores (time compression: every probe and
 * every simulated user draws from it alike).
 */
export const COMPRESSED_WORKLOAD: Readonly<WorkloadModel> = Object.freeze({
  session: { medianWords: 3, sigma: 0.6, maxWords: 8 },
  requests: {
    fixed: [{ words: 5, share: 0.3 }, { words: 3, share: 0.15 }],
    app: { medianWords: 2, sigma: 0.6, maxWords: 6 },
  },
});

/**
 * Every session exactly `words` long, and every request too: a request is then one session with no padding (tests
 * that need a session of a known length; a Brain whose every user asks for the same length).
 */
export function exactSessions(words: number): WorkloadModel {
  const m = { medianWords: words, sigma: 0, maxWords: words };
  return validateWorkload({ session: m, requests: { fixed: [], app: m } });
}

/** A request as the wire carries it: its sessions' lengths, which cover `words` with `padding` words to spare. */
export interface ShapedRequest {
  /** Words the user asked for. */
  words: number;
  /** Each session's steps, in order; their sum is words + padding. */
  sessions: number[];
  /** Steps at the end of the last session whose words the client discards. */
  padding: number;
}

function validLength(m: LengthModel): boolean {
  return m.medianWords >= 1 && m.sigma >= 0 && Number.isInteger(m.maxWords) && m.maxWords >= 1 && m.medianWords <= m.maxWords;
}

export function validateWorkload(w: WorkloadModel): WorkloadModel {
  const f = w.requests.fixed;
  const ok = validLength(w.session) && validLength(w.requests.app) &&
    f.every((x) => Number.isInteger(x.words) && x.words >= 1 && x.share >= 0) && f.reduce((a, x) => a + x.share, 0) <= 1;
  if (!ok) throw new CerberusError("BAD_WORKLOAD", `invalid workload model ${JSON.stringify(w)}`);
  return w;
}

/** One standard normal draw (Box–Muller) from a uniform source. */
function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A discrete log-normal draw: round(exp(N(ln median, sigma²))) clamped to [1, maxWords]. */
export function sampleLength(m: LengthModel, random: () => number = Math.random): number {
  return Math.min(m.maxWords, Math.max(1, Math.round(Math.exp(Math.log(m.medianWords) + m.sigma * normal(random)))));
}

/** How many words a user asks for, drawn from the model's requests (probes draw theirs here). */
export function sampleRequest(w: WorkloadModel, random: () => number = Math.random): number {
  let r = random();
  for (const f of w.requests.fixed) {
    if (r < f.share) return f.words;
    r -= f.share;
  }
  return sampleLength(w.requests.app, random);
}

/**
 * Splits a request for `words` words into sessions: lengths drawn i.i.d. from the model's session lengths until they
 * cover the request. Each draw is made before the client knows whether it is the last, so the lengths miners see are
 * the model's whatever was asked; the price is the padding (on average about E[L²] / 2E[L] steps) and a key upload
 * per extra session.
 */
export function shapeRequest(words: number, w: WorkloadModel, random: () => number = Math.random): ShapedRequest {
  if (!Number.isInteger(words) || words < 1) throw new CerberusError("BAD_REQUEST", `words must be a positive integer, got ${words}`);
  const sessions: number[] = [];
  let covered = 0;
  while (covered < words) {
    const n = sampleLength(w.session, random);
    sessions.push(n);
    covered += n;
  }
  return { words, sessions, padding: covered - words };
}

/**
 * The next arrival of a Poisson process of `ratePerMs` (an exponential gap): probes are started one after another
 * this way for as long as the validator runs, so every moment of every epoch is as likely to see one.
 */
export function nextArrivalMs(ratePerMs: number, random: () => number = Math.random): number {
  if (!(ratePerMs > 0)) throw new CerberusError("BAD_WORKLOAD", `arrival rate must be positive, got ${ratePerMs}`);
  return -Math.log(Math.max(random(), 1e-12)) / ratePerMs;
}

/** `count` request start offsets in [0, windowMs): a Poisson process conditioned on its count, sorted. */
export function sampleArrivals(count: number, windowMs: number, random: () => number = Math.random): number[] {
  if (!Number.isInteger(count) || count < 0 || !(windowMs >= 0)) {
    throw new CerberusError("BAD_WORKLOAD", `cannot place ${count} arrivals in ${windowMs} ms`);
  }
  return Array.from({ length: count }, () => random() * windowMs).sort((a, b) => a - b);
}
