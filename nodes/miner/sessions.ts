import { randomBytes } from "node:crypto";
import type { EvalSession } from "../net/evaluator.ts";

/** One open session: the evaluator's key cache plus who owns it and when it was last used. */
export interface SessionRecord {
  readonly id: string;
  readonly peerId: string;
  readonly eval: EvalSession;
  readonly openedAt: number;
  lastUsedAt: number;
  inflight: number;
  /** Set once removed from the table; the EvalSession is closed when the last in-flight step finishes. */
  removed: boolean;
}

export interface SessionTableOptions {
  idleTtlMs: number;
  maxLifetimeMs: number;
  now?: () => number;
}

/**
 * The miner's session cache. Sessions expire after `idleTtlMs` without use or `maxLifetimeMs` after opening,
 * whichever comes first. A session belongs to the peer that opened it: lookups by another peer miss (they get
 * UNKNOWN_SESSION, not a hint that the id exists).
 */
export class SessionTable {
  private readonly byId = new Map<string, SessionRecord>();
  private readonly countByPeer = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: SessionTableOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number { return this.byId.size; }
  countFor(peerId: string): number { return this.countByPeer.get(peerId) ?? 0; }

  add(peerId: string, evalSession: EvalSession): SessionRecord {
    let id: string;
    do id = randomBytes(16).toString("hex"); while (this.byId.has(id));
    const t = this.now();
    const rec: SessionRecord = { id, peerId, eval: evalSession, openedAt: t, lastUsedAt: t, inflight: 0, removed: false };
    this.byId.set(id, rec);
    this.countByPeer.set(peerId, this.countFor(peerId) + 1);
    return rec;
  }

  /** The live session with this id owned by this peer, or undefined (unknown, expired, or someone else's). */
  get(id: string, peerId: string): SessionRecord | undefined {
    const rec = this.byId.get(id);
    if (rec === undefined) return undefined;
    if (this.isExpired(rec)) {
      this.remove(rec);
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
  remove(rec: SessionRecord): void {
    if (rec.removed) return;
    rec.removed = true;
    this.byId.delete(rec.id);
    const n = this.countFor(rec.peerId) - 1;
    if (n > 0) this.countByPeer.set(rec.peerId, n);
    else this.countByPeer.delete(rec.peerId);
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
      if (this.isExpired(rec)) { this.remove(rec); n += 1; }
    }
    return n;
  }

  clear(): void {
    for (const rec of [...this.byId.values()]) this.remove(rec);
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
