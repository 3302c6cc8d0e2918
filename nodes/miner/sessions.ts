import { randomBytes } from "node:crypto";
import type { EvalSession } from "../net/evaluator.ts";

/** One open session: the evaluator's key cache plus who owns it and when it was last used. */
export interface SessionRecord {
  readonly id: string;
  readonly peerId: string;
  /** Remote host (IP) the session was opened from: the unit of fairness (identities cost nothing). */
  readonly address: string;
  readonly eval: EvalSession;
  readonly openedAt: number;
  lastUsedAt: number;
  inflight: number;
  /** Set once removed from the table; the EvalSession is closed when the last in-flight step finishes. */
  removed: boolean;
  /** What the session cost and carried, for the line the miner logs when it ends. */
  readonly usage: SessionUsage;
}

export interface SessionUsage {
  keyBytes: number;
  steps: number;
  /** Evaluation time of its steps, summed (queueing excluded). */
  evalMs: number;
  bytesIn: number;
  bytesOut: number;
}

/** Why a session left the table. */
export type SessionEnd = "closed" | "expired" | "evicted" | "worker-lost" | "stopped";

export interface SessionTableOptions {
  idleTtlMs: number;
  maxLifetimeMs: number;
  now?: () => number;
  /** Hears of every session that leaves the table, and why (the miner logs a line per session). */
  onEnd?: (rec: SessionRecord, why: SessionEnd) => void;
}

/**
 * The miner's session cache. Sessions expire after `idleTtlMs` without use or `maxLifetimeMs` after opening,
 * whichever comes first. A session belongs to the peer that opened it: lookups by another peer miss (they get
 * UNKNOWN_SESSION, not a hint that the id exists).
 */
export class SessionTable {
  private readonly byId = new Map<string, SessionRecord>();
  private readonly countByPeer = new Map<string, number>();
  private readonly countByAddress = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: SessionTableOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number { return this.byId.size; }
  countFor(peerId: string): number { return this.countByPeer.get(peerId) ?? 0; }
  countForAddress(address: string): number { return this.countByAddress.get(address) ?? 0; }

  add(peerId: string, address: string, evalSession: EvalSession): SessionRecord {
    let id: string;
    do id = randomBytes(16).toString("hex"); while (this.byId.has(id));
    const t = this.now();
    const rec: SessionRecord = {
      id, peerId, address, eval: evalSession, openedAt: t, lastUsedAt: t, inflight: 0, removed: false,
      usage: { keyBytes: 0, steps: 0, evalMs: 0, bytesIn: 0, bytesOut: 0 },
    };
    this.byId.set(id, rec);
    this.countByPeer.set(peerId, this.countFor(peerId) + 1);
    this.countByAddress.set(address, this.countForAddress(address) + 1);
    return rec;
  }

  /**
   * Which session a full table gives up for a newcomer from `address` (docs/PROTOCOL.md, "Sessions"), or undefined:
   *  1. the least recently used session idle for at least `idleAfterMs`, from anyone; else
   *  2. the least recently used idle session of the address holding the most sessions, if that address holds at
   *     least two more than the newcomer's (so addresses converge to equal shares and never ping-pong).
   * Sessions with a step in flight are never evicted.
   */
  evictionCandidate(address: string, idleAfterMs: number): SessionRecord | undefined {
    const t = this.now();
    const idle = [...this.byId.values()].filter((r) => r.inflight === 0 && !this.isExpired(r))
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    const stale = idle[0];
    if (stale !== undefined && t - stale.lastUsedAt >= idleAfterMs) return stale;
    let top: string | undefined;
    for (const [a, n] of this.countByAddress) if (top === undefined || n > this.countForAddress(top)) top = a;
    if (top === undefined || this.countForAddress(top) < this.countForAddress(address) + 2) return undefined;
    return idle.find((r) => r.address === top);
  }

  /** The live session with this id owned by this peer, or undefined (unknown, expired, or someone else's). */
  get(id: string, peerId: string): SessionRecord | undefined {
    const rec = this.byId.get(id);
    if (rec === undefined) return undefined;
    if (this.isExpired(rec)) {
      this.remove(rec, "expired");
      return undefined;
    }
    return rec.peerId === peerId ? rec : undefined;
  }

  private isExpired(rec: SessionRecord): boolean {
    const t = this.now();
    // A session with a step in flight is not idle, whatever its lastUsedAt says.
    const idle = rec.inflight === 0 && t - rec.lastUsedAt > this.options.idleTtlMs;
    return idle || t - rec.openedAt > this.options.maxLifetimeMs;
  }

  /** Removes the session; its keys are freed now or, if a step is running, when that step ends. */
  remove(rec: SessionRecord, why: SessionEnd): void {
    if (rec.removed) return;
    rec.removed = true;
    this.options.onEnd?.(rec, why);
    this.byId.delete(rec.id);
    const n = this.countFor(rec.peerId) - 1;
    if (n > 0) this.countByPeer.set(rec.peerId, n);
    else this.countByPeer.delete(rec.peerId);
    const m = this.countForAddress(rec.address) - 1;
    if (m > 0) this.countByAddress.set(rec.address, m);
    else this.countByAddress.delete(rec.address);
    if (rec.inflight === 0) closeQuietly(rec);
  }

  /** Marks a step as started / finished (the latter frees the keys of a session removed meanwhile). */
  begin(rec: SessionRecord): void { rec.inflight += 1; rec.lastUsedAt = this.now(); }
  end(rec: SessionRecord): void {
    rec.inflight -= 1;
    rec.lastUsedAt = this.now();
    if (rec.removed && rec.inflight === 0) closeQuietly(rec);
  }

  /** Drops every expired session; returns how many. */
  sweep(): number {
    let n = 0;
    for (const rec of [...this.byId.values()]) {
      if (this.isExpired(rec)) { this.remove(rec, "expired"); n += 1; }
    }
    return n;
  }

  clear(): void {
    for (const rec of [...this.byId.values()]) this.remove(rec, "stopped");
  }
}

/** Freeing keys must never take the miner down; a throwing close() is the evaluator's bug, not the peer's. */
function closeQuietly(rec: SessionRecord): void {
  try {
    rec.eval.close();
  } catch {
    // nothing useful to do: the session is already gone from the table
  }
}
