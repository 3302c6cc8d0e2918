import type { BrainModel } from "../client/brain-model.ts";
import type { Libp2p } from "@libp2p/interface";
import type { ClientPolicy } from "../client/selection.ts";
import type { MinerAddress, TransportOptions } from "../client/transport.ts";
import { nextArrivalMs, sampleArrivals, sampleRequest, validateWorkload, type WorkloadModel } from "../client/workload.ts";
import { CerberusError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { LmMixture } from "../model/mixture.ts";
import { probeSession, samplePrompt, seatKey, type PlaintextReference, type ProbeResult } from "./challenge.ts";
import type { ChallengeOutcome } from "./scoring.ts";

/** A miner seat as probes see it: its seat address (hotkey, incentive) and uid. */
export interface ProbeTarget extends MinerAddress {
  uid: number;
}

export interface PlannedProbe {
  /** Start offset from the beginning of the window. */
  startMs: number;
  /** Words the probe asks for (a request from the workload model; `generate` shapes it into sessions). */
  words: number;
  prompt: string;
}

export interface ProbePlanOptions {
  /** Probe requests in the window (all miners together: each session lands where a user's session would). */
  requests: number;
  /** The window the requests' start times are spread over (a Poisson process, as users arrive). */
  windowMs: number;
  workload: WorkloadModel;
  heldOut: readonly string[];
  random?: () => number;
}

/** One probe's request and prompt: the user workload model's draw and held-out text (3–12 words). */
export function drawProbe(workload: WorkloadModel, heldOut: readonly string[], random: () => number): Omit<PlannedProbe, "startMs"> {
  const promptWords = 3 + Math.floor(random() * 10);
  return { words: sampleRequest(workload, random), prompt: samplePrompt(heldOut, promptWords, random) };
}

/**
 * A fixed window of probes (orchestrated runs: the demo, tests): `requests` requests whose start times and lengths
 * are drawn from the user workload model (workload.ts) — the sampler the benchmark's simulated users use — and
 * shaped into sessions as users' clients shape theirs. Nothing about a probe names a miner: each runs the users'
 * miner choice (probeSession).
 */
export function planProbes(options: ProbePlanOptions): PlannedProbe[] {
  const random = options.random ?? Math.random;
  validateWorkload(options.workload);
  return sampleArrivals(options.requests, options.windowMs, random)
    .map((startMs) => ({ startMs, ...drawProbe(options.workload, options.heldOut, random) }));
}

/**
 * Probe start times of a validator that never stops: a Poisson process at `ratePerMs(t)` from `fromMs` up to
 * `toMs`, with no regard to epochs, deadlines, commits or reveals — the rolling window (agent.ts) files each probe
 * under the first commit after it ended. The live prober draws its gaps one at a time from this same rule.
 */
export function probeStartTimes(fromMs: number, toMs: number, ratePerMs: (t: number) => number, random: () => number): number[] {
  const out: number[] = [];
  for (let t = fromMs + nextArrivalMs(ratePerMs(fromMs), random); t < toMs; t += nextArrivalMs(ratePerMs(t), random)) out.push(t);
  return out;
}

export interface ProbeRunContext {
  model: BrainModel;
  reference: PlaintextReference;
  transport?: TransportOptions;
  /** The users' client policy (selection.ts): probes wait and choose exactly as users do. */
  client?: ClientPolicy;
  /** The client mixture users sample from: probes sample from it too. */
  mixture?: LmMixture;
  /** How requests are shaped into sessions (default USER_WORKLOAD): the users' model. */
  workload?: WorkloadModel;
  /** Each probe session's node (default a fresh dial-only node). */
  newNode?: () => Promise<Libp2p>;
  /** Randomness of the miner choice (default Math.random). */
  random?: () => number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** Outcomes per miner uid, over any number of probe sessions. */
export type MinerOutcomes = Map<number, ChallengeOutcome[]>;

/** Files one probe's per-seat outcomes under the seats' uids (a seat not in `miners` is ignored). */
export function fileOutcomes(into: MinerOutcomes, result: ProbeResult, miners: readonly ProbeTarget[]): void {
  for (const [key, outcomes] of result.byMiner) {
    const seat = miners.find((m) => seatKey(m) === key);
    if (seat === undefined) continue;
    into.set(seat.uid, [...(into.get(seat.uid) ?? []), ...outcomes]);
  }
}

/** Runs one probe against the Brain's miners as a user's session would reach them. */
export function runProbe(p: Omit<PlannedProbe, "startMs">, miners: readonly ProbeTarget[], ctx: ProbeRunContext): Promise<ProbeResult> {
  return probeSession({
    model: ctx.model, reference: ctx.reference, miners, prompt: p.prompt, words: p.words,
    ...(ctx.workload !== undefined ? { workload: ctx.workload } : {}),
    ...(ctx.transport !== undefined ? { transport: ctx.transport } : {}),
    ...(ctx.client !== undefined ? { client: ctx.client } : {}),
    ...(ctx.mixture !== undefined ? { mixture: ctx.mixture } : {}),
    ...(ctx.newNode !== undefined ? { newNode: ctx.newNode } : {}),
    ...(ctx.random !== undefined ? { random: ctx.random } : {}),
    ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
    ...(ctx.logger !== undefined ? { logger: ctx.logger } : {}),
  });
}

/**
 * Runs a plan in real time: each probe starts at its offset, independently of the others (so probes overlap as
 * users' sessions do), and lands where the users' miner choice sends it. Resolves with every miner's outcomes once
 * all probes have ended. Miners without a peer id are not offered (users cannot dial them either).
 */
export async function runProbes(plan: readonly PlannedProbe[], miners: readonly ProbeTarget[], ctx: ProbeRunContext): Promise<MinerOutcomes> {
  const byMiner: MinerOutcomes = new Map();
  const dialable = miners.filter((m) => m.peerId !== "");
  const t0 = performance.now();
  await Promise.all(plan.map(async (p) => {
    await waitUntil(t0 + p.startMs, ctx.signal);
    if (dialable.length === 0) return;
    fileOutcomes(byMiner, await runProbe(p, dialable, ctx), dialable);
  }));
  return byMiner;
}

export function waitUntil(at: number, signal?: AbortSignal): Promise<void> {
  const ms = at - performance.now();
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new CerberusError("STOPPED", "probing stopped"));
    if (ms <= 0) return resolve();
    const onAbort = () => { clearTimeout(timer); reject(new CerberusError("STOPPED", "probing stopped")); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
