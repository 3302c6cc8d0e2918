import { CerberusError, toCerberusError } from "../core/errors.ts";
import type { FailoverOptions } from "./failover.ts";
import type { InferClient, HealthReport, MinerAddress } from "./transport.ts";

/**
 * How a user picks the miner of a session from health and incentive (docs/PROTOCOL.md, "Choosing a miner"). The
 * same function runs for every user and, with a one-miner list, for every validator probe, so each miner sees the
 * same thing from both: one health request from the session's fresh identity, then an open — or nothing.
 *
 * "Power of d choices": `choices` candidates are drawn without replacement with probability ∝ incentive (so better
 * miners get more users, as their weights earned them), their health is asked in parallel, and the one with the
 * lowest cost (`minerCost`: the stated time to a result, discounted by incentive) is tried first; costs within a
 * factor 1.5 of each other count as equal and keep the random draw order. Drawing a few at random instead of asking everyone,
 * and not splitting hairs between similar miners, keeps simultaneous users from all piling onto the one miner that
 * looked a little faster.
 * A miner whose health fails (unreachable, malformed: PROTOCOL_VIOLATION), serves another plan, or states a wait
 * beyond `maxQueueWaitMs` is "unfit": users try it only after every other (or never, with `unfit: "drop"`).
 */
export interface SelectionPolicy {
  /** Candidates whose health is asked per session (default 2). */
  choices: number;
  /** A stated expected wait above this makes a miner unfit (default 10 s: the user would rather go elsewhere). */
  maxQueueWaitMs: number;
  /** Health request timeout (default 5 s, the control timeout: a miner whose event loop is busy answers late). */
  healthTimeoutMs: number;
  /** Unfit miners go to the end of the list ("last", users) or are left out ("drop", validator probes). */
  unfit: "last" | "drop";
}

export const DEFAULT_SELECTION: Readonly<SelectionPolicy> = Object.freeze({
  choices: 2, maxQueueWaitMs: 10_000, healthTimeoutMs: 5_000, unfit: "last",
});

/**
 * What a client does around a session besides the messages: how it picks a miner and how long it waits on a BUSY.
 * Users and validator probes must use the same one (a probe that waits longer than users would be told apart);
 * demos and tests on one machine lengthen the waits for both.
 */
export interface ClientPolicy {
  selection?: Partial<SelectionPolicy>;
  busy?: Pick<FailoverOptions, "maxBusyWaitMs" | "busyBudgetMs">;
}

export interface MinerChoice {
  /** Miners in the order the session will try them. */
  order: MinerAddress[];
  /** Health of the candidates asked (a CerberusError where it failed). */
  health: Map<string, HealthReport | CerberusError>;
  /** Candidates judged unfit, and why. */
  unfit: Map<string, string>;
}

/** Why a health answer makes a miner unfit for a session of `planId`, or undefined if it is fit. */
export function unfitReason(h: HealthReport | CerberusError, planId: string | undefined, policy: SelectionPolicy): string | undefined {
  if (h instanceof CerberusError) return `health failed: ${h.code} (${h.message.slice(0, 200)})`;
  if (planId !== undefined && h.planId !== planId) return "serves another plan";
  if (h.queue.expectedWaitMs > policy.maxQueueWaitMs) return `states a ${h.queue.expectedWaitMs} ms wait`;
  return undefined;
}

/**
 * Expected time per word of a new session as the miner states it — its queue's wait, plus its step time stretched by
 * the sessions that will share its workers (open sessions + this one, per worker) — discounted by incentive.
 */
export function minerCost(h: HealthReport, incentive: number): number {
  const share = Math.max(1, (h.load.sessions + 1) / h.queue.workers);
  return (h.queue.expectedWaitMs + Math.max(1, h.queue.recentStepMs) * share) / (0.5 + 0.5 * clamp01(incentive));
}

/**
 * Costs within this factor of each other are treated as equal (their random draw order stands): step times differ
 * between miners for reasons a new session will not see (a lone user's split steps, a warm-up), and chasing a 30%
 * difference sends every simultaneous user to the same miner.
 */
export const COST_TOLERANCE = 1.5;

export async function chooseMiners(infer: InferClient, miners: readonly MinerAddress[], options: {
  planId?: string; policy?: Partial<SelectionPolicy>; random?: () => number; signal?: AbortSignal;
} = {}): Promise<MinerChoice> {
  const policy: SelectionPolicy = { ...DEFAULT_SELECTION, ...options.policy };
  const random = options.random ?? Math.random;
  const incentives = miners.map((m) => clamp01(m.incentive ?? 0));
  const anyIncentive = incentives.some((x) => x > 0);
  // Weights ∝ incentive, with a floor so a new miner (incentive 0) still gets some users to be scored on.
  const weights = incentives.map((x) => (anyIncentive ? Math.max(x, 0.05) : 1));
  const pool = miners.map((_, i) => i);
  const drawn: number[] = [];
  while (drawn.length < Math.min(Math.max(1, policy.choices), miners.length)) {
    const total = pool.reduce((s, i) => s + weights[i]!, 0);
    let r = random() * total;
    let k = 0;
    while (k < pool.length - 1 && (r -= weights[pool[k]!]!) >= 0) k++;
    drawn.push(pool.splice(k, 1)[0]!);
  }
  const health = new Map<string, HealthReport | CerberusError>();
  await Promise.all(drawn.map(async (i) => {
    const m = miners[i]!;
    try {
      health.set(m.peerId, await infer.health(m, {
        timeoutMs: policy.healthTimeoutMs, ...(options.signal !== undefined ? { signal: options.signal } : {}),
      }));
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      health.set(m.peerId, toCerberusError(err));
    }
  }));
  const unfit = new Map<string, string>();
  const fit: { i: number; cost: number }[] = [];
  for (const i of drawn) {
    const h = health.get(miners[i]!.peerId)!;
    const why = unfitReason(h, options.planId, policy);
    if (why !== undefined) unfit.set(miners[i]!.peerId, why);
    else fit.push({ i, cost: minerCost(h as HealthReport, incentives[i]!) });
  }
  // Stable: equal (within the tolerance) costs keep their random draw order.
  fit.sort((a, b) => (Math.max(a.cost, b.cost) <= COST_TOLERANCE * Math.min(a.cost, b.cost) ? 0 : a.cost - b.cost));
  const rest = pool.sort((a, b) => incentives[b]! - incentives[a]! || a - b);
  const order = [...fit.map((f) => f.i), ...rest];
  if (policy.unfit === "last") order.push(...drawn.filter((i) => unfit.has(miners[i]!.peerId)));
  return { order: order.map((i) => miners[i]!), health, unfit };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
