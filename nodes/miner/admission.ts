import { median } from "../core/stats.ts";
import type { EvalSession } from "../net/evaluator.ts";
import { BusyError, PlanMismatchError, SessionLimitError, UnknownSessionError } from "../net/errors.ts";
import type { HealthQueue, InferRequestHeader } from "../net/messages.ts";
import type { SessionRecord, SessionTable } from "./sessions.ts";

/**
 * Who may come in, and when: the miner's caps on sessions, on requests still arriving and on evaluations — per peer,
 * per remote address and in total — the FIFO that evaluations wait in, and the queue estimate health states and
 * BUSY replies carry. No slot without bytes: a header reserves only a pending slot while its payload arrives, and a
 * request takes an evaluation slot once all its bytes are here.
 */

/** The miner's totals by default: open sessions, and requests admitted (being evaluated or queued). */
export const MINER_TOTALS = Object.freeze({ maxSessions: 64, maxInflight: 8 });

/** Who sent a request: its peer id, its host (per-address limits) and its full remote multiaddr (the request log). */
export interface Remote { peerId: string; address: string; remoteAddr: string }

export interface MinerLoad {
  /**
   * Open sessions, counting those whose keys have arrived and are loading: loading a transformer session's keys takes
   * a good part of a second, and a user choosing a miner meanwhile should see the session it will be, not an idle
   * miner. Opens whose keys are still arriving do not count: a header costs nothing to send, and counting it would
   * let anyone make a miner look busy for free.
   */
  sessions: number;
  maxSessions: number;
  inflight: number;
  maxInflight: number;
}

/** The caps admission enforces (MinerServiceOptions documents each; defaults are applied by the service). */
export interface AdmissionLimits {
  maxSessions: number;
  maxSessionsPerPeer: number;
  maxSessionsPerAddress: number;
  evictIdleMs: number;
  maxInflight: number;
  maxInflightPerPeer: number;
  maxInflightPerAddress: number;
  maxPendingPerPeer: number;
  maxPendingPerAddress: number;
  maxPendingBytes: number;
  workers: number;
  maxQueueWaitMs: number;
  stepMsHint: number;
  recentStepWindow: number;
}

type Release = () => void;

/** Counts held per key and in total; `take` returns the release. */
class Tally {
  total = 0;
  private readonly by = new Map<string, number>();
  get(key: string): number { return this.by.get(key) ?? 0; }
  take(key: string, n = 1): Release {
    this.total += n;
    this.by.set(key, this.get(key) + n);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= n;
      const left = this.get(key) - n;
      if (left > 0) this.by.set(key, left);
      else this.by.delete(key);
    };
  }
}

/** A FIFO of evaluations, `capacity` at a time: requests beyond the evaluator's workers wait here, in order. */
class EvalGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly capacity: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.capacity) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(); // the slot passes on directly: no newcomer can overtake the queue
      else this.running -= 1;
    }
  }
}

/** Durations of the last `size` steps; their median is the miner's stated step time. */
class RecentSteps {
  private readonly ms: number[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  add(ms: number): void {
    if (this.ms.length < this.size) this.ms.push(ms);
    else this.ms[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }
  get count(): number { return this.ms.length; }
  median(): number { return median(this.ms); }
}

export class Admission {
  private readonly gate: EvalGate;
  private readonly recent: RecentSteps;
  private readonly inflightPeer = new Tally();
  private readonly inflightAddr = new Tally();
  private readonly pendingPeer = new Tally();
  private readonly pendingAddr = new Tally();
  private readonly pendingBytes = new Tally();
  private readonly opensPeer = new Tally();
  private readonly opensAddr = new Tally();
  /** Opens whose header arrived and whose keys are still arriving, per peer (they count against its sessions). */
  private readonly pendingOpensPeer = new Tally();

  constructor(readonly limits: AdmissionLimits, private readonly sessions: SessionTable, private readonly planId: string) {
    this.gate = new EvalGate(limits.workers);
    this.recent = new RecentSteps(Math.max(1, limits.recentStepWindow));
  }

  get load(): MinerLoad {
    return {
      sessions: this.sessions.size + this.opensPeer.total, maxSessions: this.limits.maxSessions, inflight: this.inflightPeer.total,
      maxInflight: this.limits.maxInflight,
    };
  }

  /** The queue as health states it. */
  get queue(): HealthQueue {
    const depth = this.inflightPeer.total;
    return {
      depth, workers: this.limits.workers, recentStepMs: Math.min(3_600_000, Math.round(this.recent.median())),
      recentSteps: this.recent.count, expectedWaitMs: Math.min(3_600_000, Math.round(this.waitBehind(depth))),
    };
  }

  /** Step time used for estimates: the recent median, or the hint before any step. */
  private stepMs(): number {
    return this.recent.count > 0 ? Math.max(1, this.recent.median()) : this.limits.stepMsHint;
  }

  /** Expected wait of a request that finds `ahead` requests admitted: whole rounds of `workers` evaluations. */
  private waitBehind(ahead: number): number {
    return Math.floor(ahead / this.limits.workers) * this.stepMs();
  }

  /** Time until `completions` admitted requests have finished (rounds of `workers`), at least 50 ms. */
  private timeFor(completions: number): number {
    return Math.max(50, Math.ceil(Math.max(1, completions) / this.limits.workers) * this.stepMs());
  }

  /**
   * Checks limits as soon as a header is known, before its payload is read: a refused 16 MiB key upload costs us a
   * header, not 16 MiB of buffer. Reserves only a *pending* slot (peer, address, declared bytes) while the payload
   * arrives — never an evaluation slot. Returns the releases of what it reserved.
   */
  atHeader(remote: Remote, h: InferRequestHeader, declared: number): Release[] {
    const { peerId, address } = remote;
    const l = this.limits;
    if (h.type === "close") return [];
    if (h.type === "open") {
      if (h.planId !== this.planId) throw new PlanMismatchError(`this miner serves plan ${this.planId}`);
      if (this.sessions.countFor(peerId) + this.opensPeer.get(peerId) + this.pendingOpensPeer.get(peerId) >= l.maxSessionsPerPeer) {
        throw new SessionLimitError(`at most ${l.maxSessionsPerPeer} open sessions per peer; close one first`);
      }
      if (this.sessions.countForAddress(address) + this.opensAddr.get(address) >= l.maxSessionsPerAddress) {
        throw new SessionLimitError(`at most ${l.maxSessionsPerAddress} open sessions per address`);
      }
      if (this.sessions.size + this.opensPeer.total >= l.maxSessions &&
          this.sessions.evictionCandidate(address, l.evictIdleMs) === undefined) {
        throw new SessionLimitError(`miner is at its limit of ${l.maxSessions} sessions`);
      }
    } else if (this.sessions.get(h.sessionId, peerId) === undefined) {
      throw new UnknownSessionError("no such session (never opened, expired or closed); open a new one");
    }
    // Refuse early what could not be evaluated now anyway (nothing is reserved for it).
    this.checkSlot(remote);
    // Payloads still arriving finish at the sender's pace: about one step time is an honest guess.
    const arriving = Math.min(this.stepMs(), 1_000);
    if (this.pendingPeer.get(peerId) >= l.maxPendingPerPeer) {
      throw new BusyError(`at most ${l.maxPendingPerPeer} requests arriving per peer`, arriving);
    }
    if (this.pendingAddr.get(address) >= l.maxPendingPerAddress) {
      throw new BusyError(`at most ${l.maxPendingPerAddress} requests arriving per address`, arriving);
    }
    if (this.pendingBytes.total + declared > l.maxPendingBytes) throw new BusyError("miner is receiving too much at once", arriving);
    const releases = [this.pendingPeer.take(peerId), this.pendingAddr.take(address), this.pendingBytes.take("", declared)];
    if (h.type === "open") releases.push(this.pendingOpensPeer.take(peerId));
    return releases;
  }

  /** An open whose keys have all arrived holds its place against the session caps until its keys are loaded. */
  openArrived(remote: Remote): Release[] {
    return [this.opensPeer.take(remote.peerId), this.opensAddr.take(remote.address)];
  }

  /**
   * BUSY, with the wait the miner expects before it could take the request: for its own caps, the time until enough
   * admitted requests have finished; for a per-peer or per-address cap, until the whole queue ahead has drained
   * (the peer's own requests are somewhere in it).
   */
  private checkSlot(remote: Remote): void {
    const l = this.limits;
    const ahead = this.inflightPeer.total;
    if (this.inflightPeer.get(remote.peerId) >= l.maxInflightPerPeer) {
      throw new BusyError(`at most ${l.maxInflightPerPeer} requests in flight per peer`, this.timeFor(ahead));
    }
    if (this.inflightAddr.get(remote.address) >= l.maxInflightPerAddress) {
      throw new BusyError(`at most ${l.maxInflightPerAddress} requests in flight per address`, this.timeFor(ahead));
    }
    if (ahead >= l.maxInflight || this.waitBehind(ahead) > l.maxQueueWaitMs) {
      // Smallest number of completions after which a newcomer would be admitted on both counts.
      const rounds = Math.floor(l.maxQueueWaitMs / this.stepMs()) + 1;
      const k = Math.max(ahead - l.maxInflight + 1, ahead - rounds * l.workers + 1, 1);
      throw new BusyError(`miner is at capacity: ${ahead} requests ahead, ~${Math.round(this.waitBehind(ahead))} ms of queue`,
        this.timeFor(k));
    }
  }

  /** An evaluation slot, taken once the whole request has arrived. */
  takeSlot(remote: Remote): Release[] {
    this.checkSlot(remote);
    return [this.inflightPeer.take(remote.peerId), this.inflightAddr.take(remote.address)];
  }

  /** Runs key loading in the evaluation FIFO. */
  runOpen<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.run(work);
  }

  /** Runs a step in the evaluation FIFO; its duration feeds the stated step time. */
  runStep<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.run(async () => {
      const t0 = performance.now();
      const out = await work();
      this.recent.add(performance.now() - t0);
      return out;
    });
  }

  /**
   * Places a session whose keys loaded; a full table gives one up for it if its policy allows (else SESSION_LIMIT,
   * and the new session's keys are freed). `onEvict` hears of the session given up.
   */
  placeSession(remote: Remote, evalSession: EvalSession, onEvict: (victim: SessionRecord) => void): SessionRecord {
    const l = this.limits;
    let refusal: string | undefined;
    if (this.sessions.countForAddress(remote.address) >= l.maxSessionsPerAddress) {
      refusal = `at most ${l.maxSessionsPerAddress} open sessions per address`;
    } else if (this.sessions.size >= l.maxSessions) {
      const victim = this.sessions.evictionCandidate(remote.address, l.evictIdleMs);
      if (victim === undefined) refusal = `miner is at its limit of ${l.maxSessions} sessions`;
      else {
        onEvict(victim);
        this.sessions.remove(victim, "evicted");
      }
    }
    if (refusal !== undefined) {
      evalSession.close();
      throw new SessionLimitError(refusal);
    }
    return this.sessions.add(remote.peerId, remote.address, evalSession);
  }
}
