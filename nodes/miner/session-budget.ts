import { MINER_TOTALS } from "./admission.ts";

/**
 * How many sessions a miner holds by default. A session keeps the user's evaluation keys loaded in every FHE worker,
 * at about the uncompressed size the plan caps them at (`PlanDescriptor.caps`; measured for the Brown LM's plan:
 * 23.5 MiB per worker against caps of 20 MiB, SEAL's own bookkeeping being the rest). An attacker who opens sessions
 * until the table is full makes the miner hold that many key sets, so the cap comes from the memory the machine has,
 * not from a constant that fits one machine: by default a quarter of it, never more than 64 sessions, never fewer
 * than 4.
 */
export interface SessionBudget {
  maxSessions: number;
  /** Key bytes one session holds across all workers: 1.5 × the caps (SEAL adds ≈ 17% over them, measured). */
  perSessionBytes: number;
  budgetBytes: number;
}

export const SESSION_MEMORY_SHARE = 0.25;
/** The service's own default total: a big machine gets what a miner without this budget would. */
export const MAX_DEFAULT_SESSIONS = MINER_TOTALS.maxSessions;
export const MIN_DEFAULT_SESSIONS = 4;

export function sessionBudget(caps: { galoisKeyBytes: number; relinKeyBytes: number; cacheBytes?: number }, workers: number,
  totalMemoryBytes: number, share = SESSION_MEMORY_SHARE): SessionBudget {
  // A round plan's session also holds its encrypted key/value cache and the registers one round leaves for the next
  // (RoundEvaluator: the cache is one top-level ciphertext; a word keeps a few more; 3 × the cache's cap covers both).
  const stateBytes = 3 * (caps.cacheBytes ?? 0);
  const perSessionBytes = Math.ceil(1.5 * (caps.galoisKeyBytes + caps.relinKeyBytes) * Math.max(1, workers) + stateBytes);
  const budgetBytes = Math.floor(totalMemoryBytes * share);
  const fits = Math.floor(budgetBytes / perSessionBytes);
  return { maxSessions: Math.min(MAX_DEFAULT_SESSIONS, Math.max(MIN_DEFAULT_SESSIONS, fits)), perSessionBytes, budgetBytes };
}
