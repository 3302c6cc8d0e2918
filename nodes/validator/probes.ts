import type { BrainModel } from "../client/brain-model.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { MinerAddress, TransportOptions } from "../client/transport.ts";
import { sampleArrivals, sampleSession, validateWorkload, type SessionShape, type WorkloadModel } from "../client/workload.ts";
import { CerberusError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { LmMixture } from "../model/mixture.ts";
import { probeSession, samplePrompt, type PlaintextReference } from "./challenge.ts";
import { unanswered, type ChallengeOutcome } from "./scoring.ts";

export interface ProbeTarget extends MinerAddress {
  uid: number;
}

export interface PlannedProbe {
  miner: ProbeTarget;
  /** Start offset from the beginning of the window. */
  startMs: number;
  shape: SessionShape;
  prompt: string;
}

export interface ProbePlanOptions {
  /** Probe sessions per miner in the window. */
  sessionsPerMiner: number;
  /** The window the sessions' start times are spread over (a Poisson process, as users arrive). */
  windowMs: number;
  workload: WorkloadModel;
  heldOut: readonly string[];
  random?: () => number;
}

/**
 * The probe generator: per miner, `sessionsPerMiner` sessions whose start times, lengths and think times are drawn
 * from the user workload model (workload.ts) — the same sampler the benchmark's simulated users use — and whose
 * prompts are held-out text. Nothing about a probe depends on the miner it targets or on the validator sending it.
 */
export function planProbes(miners: readonly ProbeTarget[], options: ProbePlanOptions): PlannedProbe[] {
  const random = options.random ?? Math.random;
  validateWorkload(options.workload);
  const plan: PlannedProbe[] = [];
  for (const miner of miners) {
    for (const startMs of sampleArrivals(options.sessionsPerMiner, options.windowMs, random)) {
      const promptWords = 3 + Math.floor(random() * 10);
      plan.push({ miner, startMs, shape: sampleSession(options.workload, random), prompt: samplePrompt(options.heldOut, promptWords, random) });
    }
  }
  return plan.sort((a, b) => a.startMs - b.startMs);
}

export interface ProbeRunContext {
  model: BrainModel;
  reference: PlaintextReference;
  transport?: TransportOptions;
  /** The users' client policy (selection.ts): probes wait and choose exactly as users do. */
  client?: ClientPolicy;
  /** The client mixture users sample from: probes sample from it too. */
  mixture?: LmMixture;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Runs a plan in real time: each probe starts at its offset, independently of the others (so probes overlap as
 * users' sessions do). Resolves with every miner's outcomes once all probes have ended. A miner without a peer id
 * is not probed: its planned steps count as unanswered.
 */
export async function runProbes(plan: readonly PlannedProbe[], ctx: ProbeRunContext): Promise<Map<number, ChallengeOutcome[]>> {
  const byMiner = new Map<number, ChallengeOutcome[]>();
  const t0 = performance.now();
  // A user avoids an unfit miner only if there is another to go to; so does a probe.
  const alternatives = new Set(plan.map((p) => p.miner.uid)).size > 1;
  await Promise.all(plan.map(async (p) => {
    if (!byMiner.has(p.miner.uid)) byMiner.set(p.miner.uid, []);
    await waitUntil(t0 + p.startMs, ctx.signal);
    const outcomes = p.miner.peerId === "" ? unanswered(p.shape.words) : await probeSession({
      // The whole seat address, hotkey included: a peer answering for another seat's hotkey fails (HOTKEY_MISMATCH).
      model: ctx.model, reference: ctx.reference, miner: { peerId: p.miner.peerId, multiaddrs: p.miner.multiaddrs,
        ...(p.miner.hotkey !== undefined ? { hotkey: p.miner.hotkey } : {}) },
      prompt: p.prompt, shape: p.shape, ...(ctx.transport !== undefined ? { transport: ctx.transport } : {}),
      ...(ctx.client !== undefined ? { client: ctx.client } : {}), alternatives,
      ...(ctx.mixture !== undefined ? { mixture: ctx.mixture } : {}),
      ...(ctx.logger !== undefined ? { logger: ctx.logger } : {}),
    });
    byMiner.get(p.miner.uid)!.push(...outcomes);
  }));
  return byMiner;
}

function waitUntil(at: number, signal?: AbortSignal): Promise<void> {
  const ms = at - performance.now();
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new CerberusError("STOPPED", "probing stopped"));
    if (ms <= 0) return resolve();
    const onAbort = () => { clearTimeout(timer); reject(new CerberusError("STOPPED", "probing stopped")); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
