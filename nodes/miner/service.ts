import type { Libp2p, Stream, Connection } from "@libp2p/interface";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { median } from "../core/stats.ts";
import type { EvalSession, MinerEvaluator, SessionPeer } from "../net/evaluator.ts";
import { remoteHost } from "../net/address-gate.ts";
import {
  BusyError, EvalFailedError, MalformedMessageError, PlanMismatchError, ProtocolError, SessionLimitError,
  UnknownSessionError, isWireErrorCode, type WireErrorCode,
} from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { FrameReader, readMessage, writeMessage, type OutgoingHeader } from "../net/framing.ts";
import {
  DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthRequestHeader, Hotkey, INFER_PROTOCOL, InferRequestHeader, PROTOCOL_VERSION,
  type HealthQueue, type InferRequestHeader as InferRequest, type WireLimits,
} from "../net/messages.ts";
import { SessionTable, type SessionRecord } from "./sessions.ts";

export interface MinerServiceOptions {
  /** The FHE engine (or a wrapper such as FaultyEvaluator). */
  evaluator: MinerEvaluator;
  /** The hotkey (EVM address) whose seat this miner serves; stated in every `opened` reply. */
  hotkey: string;
  /** Byte caps per message type (defaults: DEFAULT_LIMITS). */
  limits?: Partial<WireLimits>;
  /** Open sessions in total (default 64), per peer (default 4) and per remote address (default 16). */
  maxSessions?: number;
  maxSessionsPerPeer?: number;
  maxSessionsPerAddress?: number;
  /**
   * A full session table gives up a session idle this long (default 60 s) — or one of an address holding more
   * than its share — for a newcomer (SessionTable.evictionCandidate).
   */
  evictIdleSessionsAfterMs?: number;
  /**
   * Requests (open/step) being evaluated in total (default 8), per peer (default 2) and per remote address (default
   * 4). A request takes its slot only once all its bytes have arrived; beyond → BUSY.
   */
  maxInflight?: number;
  maxInflightPerPeer?: number;
  maxInflightPerAddress?: number;
  /**
   * Requests whose header arrived and whose payload is still arriving: per peer (default = maxInflightPerPeer), per
   * remote address (default 8), and their declared payload bytes in total (default 128 MiB). Beyond → BUSY.
   */
  maxPendingPerPeer?: number;
  maxPendingPerAddress?: number;
  maxPendingBytes?: number;
  /** The first request's header must arrive within this of the stream opening (default 5 s). */
  headerTimeoutMs?: number;
  /**
   * After a header, its payload must keep arriving at this rate at least (bytes/s, default 128 KiB/s = 1 Mbit/s),
   * measured after a grace period (default 5 s): a slower stream is reset.
   */
  minTransferRate?: number;
  payloadGraceMs?: number;
  /** An inbound connection with no stream for this long is closed (default 60 s). */
  connectionIdleTimeoutMs?: number;
  /** A session's keys are dropped after this long without a step (default 10 min)… */
  sessionIdleTtlMs?: number;
  /** …or this long after opening, whichever is first (default 1 h). */
  sessionMaxLifetimeMs?: number;
  /** Deadline for delivering a reply (default 60 s). */
  requestReadTimeoutMs?: number;
  /** A stream kept open between requests is reset after this long without one (default 30 s). */
  streamIdleTimeoutMs?: number;
  /**
   * An evaluation (or key load) that takes longer is answered with EVAL_FAILED and its request slot freed
   * (default 120 s). The session stays busy until the evaluator actually returns, so its keys are never freed
   * under a running evaluation.
   */
  evaluationTimeoutMs?: number;
  /**
   * Evaluations run at once (default: the evaluator's `parallelism`, else 1). Admitted requests beyond it wait in a
   * FIFO here; health reports the queue and the expected wait it implies.
   */
  workers?: number;
  /**
   * A request whose expected wait (requests ahead / workers × recent step time) would exceed this is refused BUSY at
   * its header, with `retryAfterMs` = when the miner expects room (default 5 s).
   */
  maxQueueWaitMs?: number;
  /** Steps whose evaluation time health's median covers (default 32). */
  recentStepWindow?: number;
  /** Step time assumed before any step was measured (default 500 ms). */
  stepMsHint?: number;
  /** Reported by health (default "cerberus-miner/0.1.0"). */
  software?: string;
  logger?: Logger;
  /** Observer of every request, after it was answered (metrics; tests compare message shapes with it). */
  onRequest?: (event: RequestEvent) => void;
}

export interface RequestEvent {
  peerId: string;
  /** The remote multiaddr of the connection (what a miner knows about where a request comes from). */
  remoteAddr: string;
  /** libp2p connection and stream ids: which requests shared a connection or a stream. */
  connectionId: string;
  streamId: string;
  /** 0 for the first request on its stream, 1 for the next, … */
  requestOnStream: number;
  /** Date.now() when the request's header arrived (undefined if it never did). */
  receivedAt?: number;
  /** Session of the request: the header's, or for `open` the one the reply created. */
  sessionId?: string;
  protocol: string;
  /** The validated request header (undefined if it did not validate). */
  header?: Readonly<Record<string, unknown>>;
  /** The header's JSON text exactly as received (undefined if the request did not parse). */
  headerJson?: string;
  /** Byte length of each binary part as received. */
  partSizes: number[];
  /** Request bytes on the wire (0 if it did not parse). */
  wireBytes: number;
  /** Reply type ("opened", "result", ...) or the error code sent. */
  outcome: string;
  /** From the whole request having arrived (or its refusal at the header) to the reply written, in ms. */
  handledMs?: number;
}

export interface MinerLoad {
  sessions: number;
  maxSessions: number;
  inflight: number;
  maxInflight: number;
}

/** The miner's totals by default: open sessions, and requests admitted (being evaluated or queued). */
export const MINER_TOTALS = Object.freeze({ maxSessions: 64, maxInflight: 8 });

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

interface Reply { header: OutgoingHeader; parts: Uint8Array[] }

/** Who sent a request: its peer id and remote host (identities are free, addresses are not). */
/** Who sent a request: its peer id, its host (per-address limits) and its full remote multiaddr (the request log). */
interface Remote { peerId: string; address: string; remoteAddr: string }

/** Counts held per key and in total; `take` returns the release. */
class Tally {
  total = 0;
  private readonly by = new Map<string, number>();
  get(key: string): number { return this.by.get(key) ?? 0; }
  take(key: string, n = 1): () => void {
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

/** The stream's bytes, counted as they arrive (the minimum-rate check reads the count). */
async function* counted(stream: Stream, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    counter.bytes += chunk.byteLength;
    yield chunk instanceof Uint8Array ? chunk : chunk.subarray();
  }
}

/**
 * Serves /cerberus/infer/1.0.0 and /cerberus/health/1.0.0 on a libp2p node: request/reply pairs on each stream,
 * sessions cached with expiry, limits per peer, per remote address and in total, every failure answered with a typed
 * `error` reply. No slot without bytes: a header must come within seconds, a payload at a minimum rate, and a
 * request takes an evaluation slot only once all its bytes are here. It never sees a secret key or a plaintext: it
 * passes opaque bytes to the injected evaluator.
 */
export class MinerService {
  readonly limits: WireLimits;
  private readonly sessions: SessionTable;
  private readonly log: Logger;
  private readonly maxSessions: number;
  private readonly maxSessionsPerPeer: number;
  private readonly maxSessionsPerAddress: number;
  private readonly evictIdleMs: number;
  private readonly maxInflight: number;
  private readonly maxInflightPerPeer: number;
  private readonly maxInflightPerAddress: number;
  private readonly maxPendingPerPeer: number;
  private readonly maxPendingPerAddress: number;
  private readonly maxPendingBytes: number;
  private readonly headerTimeoutMs: number;
  private readonly minRate: number;
  private readonly graceMs: number;
  private readonly connIdleMs: number;
  private readonly replyTimeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly idleTtlMs: number;
  private readonly software: string;
  readonly hotkey: string;
  readonly workers: number;
  private readonly maxQueueWaitMs: number;
  private readonly stepMsHint: number;
  private readonly gate: EvalGate;
  private readonly recent: RecentSteps;
  private readonly inflightPeer = new Tally();
  private readonly inflightAddr = new Tally();
  private readonly pendingPeer = new Tally();
  private readonly pendingAddr = new Tally();
  private readonly pendingBytes = new Tally();
  private readonly opensPeer = new Tally();
  private readonly opensAddr = new Tally();
  private readonly lastActivity = new WeakMap<Connection, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stopping = false;

  constructor(private readonly node: Libp2p, private readonly options: MinerServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.maxSessions = options.maxSessions ?? MINER_TOTALS.maxSessions;
    this.maxSessionsPerPeer = options.maxSessionsPerPeer ?? 4;
    this.maxSessionsPerAddress = options.maxSessionsPerAddress ?? 16;
    this.evictIdleMs = options.evictIdleSessionsAfterMs ?? 60_000;
    this.maxInflight = options.maxInflight ?? MINER_TOTALS.maxInflight;
    this.maxInflightPerPeer = options.maxInflightPerPeer ?? 2;
    this.maxInflightPerAddress = options.maxInflightPerAddress ?? 4;
    this.maxPendingPerPeer = options.maxPendingPerPeer ?? this.maxInflightPerPeer;
    this.maxPendingPerAddress = options.maxPendingPerAddress ?? 8;
    this.maxPendingBytes = options.maxPendingBytes ?? 128 * 2 ** 20;
    this.headerTimeoutMs = options.headerTimeoutMs ?? 5_000;
    this.minRate = options.minTransferRate ?? 128 * 1024;
    this.graceMs = options.payloadGraceMs ?? 5_000;
    this.connIdleMs = options.connectionIdleTimeoutMs ?? 60_000;
    this.replyTimeoutMs = options.requestReadTimeoutMs ?? 60_000;
    this.streamIdleMs = options.streamIdleTimeoutMs ?? 30_000;
    this.idleTtlMs = options.sessionIdleTtlMs ?? 10 * 60_000;
    this.software = options.software ?? "cerberus-miner/0.1.0";
    this.workers = Math.max(1, Math.floor(options.workers ?? options.evaluator.parallelism ?? 1));
    this.maxQueueWaitMs = options.maxQueueWaitMs ?? 5_000;
    this.stepMsHint = options.stepMsHint ?? 500;
    this.gate = new EvalGate(this.workers);
    this.recent = new RecentSteps(Math.max(1, options.recentStepWindow ?? 32));
    this.hotkey = options.hotkey.toLowerCase();
    if (!Hotkey.safeParse(this.hotkey).success) throw new CerberusError("BAD_HOTKEY", `not an EVM address: ${options.hotkey}`);
    this.sessions = new SessionTable({
      idleTtlMs: this.idleTtlMs, maxLifetimeMs: options.sessionMaxLifetimeMs ?? 60 * 60_000,
    });
    this.log = options.logger ?? createLogger("miner");
  }

  get planId(): string { return this.options.evaluator.planId; }

  get load(): MinerLoad {
    return {
      sessions: this.sessions.size, maxSessions: this.maxSessions, inflight: this.inflightPeer.total,
      maxInflight: this.maxInflight,
    };
  }

  /** The queue as health states it. */
  get queue(): HealthQueue {
    const depth = this.inflightPeer.total;
    return {
      depth, workers: this.workers, recentStepMs: Math.min(3_600_000, Math.round(this.recent.median())),
      recentSteps: this.recent.count, expectedWaitMs: Math.min(3_600_000, Math.round(this.waitBehind(depth))),
    };
  }

  /** Step time used for estimates: the recent median, or the hint before any step. */
  private stepMs(): number {
    return this.recent.count > 0 ? Math.max(1, this.recent.median()) : this.stepMsHint;
  }

  /** Expected wait of a request that finds `ahead` requests admitted: whole rounds of `workers` evaluations. */
  private waitBehind(ahead: number): number {
    return Math.floor(ahead / this.workers) * this.stepMs();
  }

  /** Time until `completions` admitted requests have finished (rounds of `workers`), at least 50 ms. */
  private timeFor(completions: number): number {
    return Math.max(50, Math.ceil(Math.max(1, completions) / this.workers) * this.stepMs());
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.stopping = false;
    // More streams than we serve concurrently, so excess load gets a typed BUSY, not a stream reset; clients use ≤ 8
    // concurrent requests per miner plus as many idle pooled streams.
    await this.node.handle(INFER_PROTOCOL, (stream, conn) => this.serve(stream, conn, INFER_PROTOCOL),
      { maxInboundStreams: 32 });
    await this.node.handle(HEALTH_PROTOCOL, (stream, conn) => this.serve(stream, conn, HEALTH_PROTOCOL),
      { maxInboundStreams: 8 });
    const every = Math.max(50, Math.min(5_000, Math.floor(Math.min(this.idleTtlMs, this.connIdleMs) / 4)));
    this.sweeper = setInterval(() => {
      const n = this.sessions.sweep();
      if (n > 0) this.log.debug({ expired: n }, "sessions expired");
      this.pruneIdleConnections();
    }, every);
    this.sweeper.unref();
    this.log.info({ planId: this.planId, peerId: this.node.peerId.toString() }, "miner service started");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    await this.node.unhandle([INFER_PROTOCOL, HEALTH_PROTOCOL]);
    this.sessions.clear();
  }

  /** Inbound connections that carry no stream and sent no request for connectionIdleTimeoutMs are closed. */
  private pruneIdleConnections(): void {
    const now = Date.now();
    for (const c of this.node.getConnections()) {
      if (c.direction !== "inbound" || c.status !== "open" || c.streams.length > 0) continue;
      if (now - (this.lastActivity.get(c) ?? c.timeline.open) < this.connIdleMs) continue;
      this.log.debug({ peerId: c.remotePeer.toString(), addr: c.remoteAddr.toString() }, "closing idle connection");
      void c.close().catch((err: unknown) => c.abort(err instanceof Error ? err : new Error(String(err))));
    }
  }

  // ---- a stream carries requests one after another: read one, answer it, read the next
  private async serve(stream: Stream, connection: Connection, protocol: string): Promise<void> {
    const remote: Remote = { peerId: connection.remotePeer.toString(), address: remoteHost(connection.remoteAddr),
      remoteAddr: connection.remoteAddr.toString() };
    this.lastActivity.set(connection, Date.now());
    const counter = { bytes: 0 };
    const reader = new FrameReader(counted(stream, counter));
    for (let n = 0; ; n++) {
      const again = await this.serveOne(stream, reader, counter, remote,
        { connectionId: connection.id, streamId: stream.id, n }, protocol);
      this.lastActivity.set(connection, Date.now());
      if (!again) return;
    }
  }

  /** Serves one request on the stream; returns whether the stream stays open for another. */
  private async serveOne(
    stream: Stream, reader: FrameReader, counter: { bytes: number }, remote: Remote,
    at: { connectionId: string; streamId: string; n: number }, protocol: string,
  ): Promise<boolean> {
    const { peerId } = remote;
    const first = at.n === 0;
    // What a miner can see of a request, logged for the probe discriminator (bench:probes) and operators.
    const event: RequestEvent = {
      peerId, remoteAddr: remote.remoteAddr, connectionId: at.connectionId, streamId: at.streamId, requestOnStream: at.n,
      protocol, partSizes: [], wireBytes: 0, outcome: "",
    };
    // Before a header: the first request's header within headerTimeoutMs of the stream opening, a later one within
    // the idle timeout. After the header: its payload at minTransferRate at least (after a grace period).
    const headerTimer = setTimeout(() => stream.abort(new Error(first ? "no request header in time" : "stream idle")),
      first ? this.headerTimeoutMs : this.streamIdleMs);
    let rateTimer: NodeJS.Timeout | undefined;
    const stopTimers = () => { clearTimeout(headerTimer); if (rateTimer !== undefined) clearInterval(rateTimer); };
    const headerArrived = (declared: number) => {
      clearTimeout(headerTimer);
      if (declared === 0) return;
      const t0 = Date.now();
      const base = counter.bytes;
      rateTimer = setInterval(() => {
        const late = Date.now() - t0 - this.graceMs;
        if (late > 0 && counter.bytes - base < Math.min(declared, (late / 1000) * this.minRate)) {
          stream.abort(new Error(`payload slower than ${this.minRate} B/s`));
        }
      }, 250);
    };
    const pending: (() => void)[] = [];
    const release: (() => void)[] = [];
    let arrived: number | undefined;
    let reply: Reply;
    try {
      if (protocol === HEALTH_PROTOCOL) {
        const msg = await readMessage(reader, this.limits, HealthRequestHeader, () => headerArrived(0));
        stopTimers();
        if (msg === undefined) return await this.endOfStream(stream, first);
        event.header = msg.header;
        event.headerJson = msg.headerJson;
        event.wireBytes = msg.wireBytes;
        reply = { header: this.healthReport(), parts: [] };
      } else {
        const msg = await readMessage(reader, this.limits, InferRequestHeader, (h) => {
          event.receivedAt = Date.now();
          event.header = h;
          if (h.type !== "open") event.sessionId = h.sessionId;
          const declared = h.parts.reduce((s, n) => s + n, 0);
          pending.push(...this.admit(remote, h, declared));
          headerArrived(declared);
        });
        stopTimers();
        arrived = performance.now();
        for (const r of pending.splice(0)) r();
        if (msg === undefined) return await this.endOfStream(stream, first);
        event.partSizes = msg.parts.map((p) => p.byteLength);
        event.headerJson = msg.headerJson;
        event.wireBytes = msg.wireBytes;
        if (msg.header.type === "open") release.push(this.opensPeer.take(peerId), this.opensAddr.take(remote.address));
        if (msg.header.type !== "close") release.push(...this.takeSlot(remote));
        reply = await this.dispatch(remote, msg.header, msg.parts);
        if (reply.header.type === "opened") event.sessionId = String(reply.header.sessionId);
      }
    } catch (err) {
      stopTimers();
      if (stream.status !== "open") {
        // Reset by the peer, or our timeouts: nobody to answer. (An idle stream timing out is not a request.)
        for (const r of [...pending.splice(0), ...release.splice(0)]) r();
        if (event.header !== undefined || first) {
          event.outcome = "ABORTED";
          this.options.onRequest?.(event);
        }
        return false;
      }
      arrived ??= performance.now();
      reply = this.errorReply(err, peerId);
      // Whatever the peer is still sending (e.g. the payload of a refused open) is dropped, not buffered.
      await stream.closeRead().catch(() => {});
    } finally {
      for (const r of [...pending.splice(0), ...release.splice(0)]) r();
    }
    const isError = reply.header.type === "error";
    event.outcome = isError ? String(reply.header.code) : reply.header.type;
    const sending = deadline(this.replyTimeoutMs);
    let delivered = false;
    try {
      await writeMessage(stream, reply.header, reply.parts, { signal: sending.signal });
      // After an error the stream may be out of sync (an unread payload): end it. Otherwise keep it for the next.
      if (isError) {
        await stream.close({ signal: sending.signal });
        // A peer that keeps its half of a refused stream open (still trickling) gets it reset: it holds nothing
        // here but a muxer entry, yet that counts against the connection's stream cap.
        setTimeout(() => { if (stream.status === "open") stream.abort(new Error("refused stream kept open")); }, 1_000).unref();
      }
      delivered = true;
    } catch (err) {
      this.log.debug({ peerId, err: String(err) }, "could not deliver reply");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      sending.clear();
    }
    if (arrived !== undefined) event.handledMs = performance.now() - arrived;
    this.options.onRequest?.(event);
    return delivered && !isError;
  }

  /** The peer closed its side between requests: fine after at least one; a stream with no request is MALFORMED. */
  private async endOfStream(stream: Stream, first: boolean): Promise<boolean> {
    if (first) throw new MalformedMessageError("stream ended before a request");
    await stream.close().catch(() => stream.abort(new Error("close failed")));
    return false;
  }

  /**
   * Checks limits as soon as a header is known, before its payload is read: a refused 16 MiB key upload costs us a
   * header, not 16 MiB of buffer. Reserves only a *pending* slot (peer, address, declared bytes) while the payload
   * arrives — never an evaluation slot. Returns the releases of what it reserved.
   */
  private admit(remote: Remote, h: InferRequest, declared: number): (() => void)[] {
    const { peerId, address } = remote;
    if (this.stopping) throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
    if (h.type === "close") return [];
    if (h.type === "open") {
      if (h.planId !== this.planId) throw new PlanMismatchError(`this miner serves plan ${this.planId}`);
      if (this.sessions.countFor(peerId) + this.opensPeer.get(peerId) + this.pendingPeerOpens(peerId) >= this.maxSessionsPerPeer) {
        throw new SessionLimitError(`at most ${this.maxSessionsPerPeer} open sessions per peer; close one first`);
      }
      if (this.sessions.countForAddress(address) + this.opensAddr.get(address) >= this.maxSessionsPerAddress) {
        throw new SessionLimitError(`at most ${this.maxSessionsPerAddress} open sessions per address`);
      }
      if (this.sessions.size + this.opensPeer.total >= this.maxSessions &&
          this.sessions.evictionCandidate(address, this.evictIdleMs) === undefined) {
        throw new SessionLimitError(`miner is at its limit of ${this.maxSessions} sessions`);
      }
    } else if (this.sessions.get(h.sessionId, peerId) === undefined) {
      throw new UnknownSessionError("no such session (never opened, expired or closed); open a new one");
    }
    // Refuse early what could not be evaluated now anyway (nothing is reserved for it).
    this.checkSlot(remote);
    // Payloads still arriving finish at the sender's pace: about one step time is an honest guess.
    const arriving = Math.min(this.stepMs(), 1_000);
    if (this.pendingPeer.get(peerId) >= this.maxPendingPerPeer) {
      throw new BusyError(`at most ${this.maxPendingPerPeer} requests arriving per peer`, arriving);
    }
    if (this.pendingAddr.get(address) >= this.maxPendingPerAddress) {
      throw new BusyError(`at most ${this.maxPendingPerAddress} requests arriving per address`, arriving);
    }
    if (this.pendingBytes.total + declared > this.maxPendingBytes) throw new BusyError("miner is receiving too much at once", arriving);
    const releases = [this.pendingPeer.take(peerId), this.pendingAddr.take(address), this.pendingBytes.take("", declared)];
    if (h.type === "open") releases.push(this.pendingOpensPeer.take(peerId));
    return releases;
  }

  /** Opens whose header arrived and whose keys are still arriving, per peer (they count against its sessions). */
  private readonly pendingOpensPeer = new Tally();
  private pendingPeerOpens(peerId: string): number { return this.pendingOpensPeer.get(peerId); }

  /**
   * BUSY, with the wait the miner expects before it could take the request: for its own caps, the time until enough
   * admitted requests have finished; for a per-peer or per-address cap, until the whole queue ahead has drained
   * (the peer's own requests are somewhere in it).
   */
  private checkSlot(remote: Remote): void {
    const ahead = this.inflightPeer.total;
    if (this.inflightPeer.get(remote.peerId) >= this.maxInflightPerPeer) {
      throw new BusyError(`at most ${this.maxInflightPerPeer} requests in flight per peer`, this.timeFor(ahead));
    }
    if (this.inflightAddr.get(remote.address) >= this.maxInflightPerAddress) {
      throw new BusyError(`at most ${this.maxInflightPerAddress} requests in flight per address`, this.timeFor(ahead));
    }
    if (ahead >= this.maxInflight || this.waitBehind(ahead) > this.maxQueueWaitMs) {
      // Smallest number of completions after which a newcomer would be admitted on both counts.
      const rounds = Math.floor(this.maxQueueWaitMs / this.stepMs()) + 1;
      const k = Math.max(ahead - this.maxInflight + 1, ahead - rounds * this.workers + 1, 1);
      throw new BusyError(`miner is at capacity: ${ahead} requests ahead, ~${Math.round(this.waitBehind(ahead))} ms of queue`,
        this.timeFor(k));
    }
  }

  /** An evaluation slot, taken once the whole request has arrived. */
  private takeSlot(remote: Remote): (() => void)[] {
    this.checkSlot(remote);
    return [this.inflightPeer.take(remote.peerId), this.inflightAddr.take(remote.address)];
  }

  private async dispatch(remote: Remote, h: InferRequest, parts: Uint8Array[]): Promise<Reply> {
    const { peerId, address } = remote;
    const v = PROTOCOL_VERSION;
    switch (h.type) {
      case "open": {
        const [galoisKeys, relinKeys] = parts as [Uint8Array, Uint8Array];
        const peer: SessionPeer = { peerId, remoteAddr: remote.remoteAddr };
        let evalSession;
        try {
          evalSession = await this.gate.run(() =>
            this.options.evaluator.openSession({ planId: h.planId, galoisKeys, relinKeys }, peer));
        } catch (err) {
          throw asWireError(err, "BAD_KEYS", "session keys rejected");
        }
        if (this.stopping) {
          evalSession.close();
          throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
        }
        const rec = this.addSession(remote, evalSession);
        this.log.debug({ peerId, address, sessionId: rec.id }, "session opened");
        return { header: { v, type: "opened", sessionId: rec.id, planId: this.planId, idleTtlMs: this.idleTtlMs,
          hotkey: this.hotkey }, parts: [] };
      }
      case "step": {
        const rec = this.sessions.get(h.sessionId, peerId);
        if (rec === undefined) throw new UnknownSessionError("session expired while the step was arriving");
        const outputs = await this.gate.run(async () => {
          const t0 = performance.now();
          const out = await this.evaluate(rec, parts);
          this.recent.add(performance.now() - t0);
          return out;
        });
        return { header: { v, type: "result", sessionId: rec.id, seq: h.seq }, parts: outputs };
      }
      case "close": {
        const rec = this.sessions.get(h.sessionId, peerId);
        if (rec === undefined) throw new UnknownSessionError("no such session");
        this.sessions.remove(rec);
        return { header: { v, type: "closed", sessionId: h.sessionId }, parts: [] };
      }
    }
  }

  /** Adds a session whose keys loaded; a full table gives one up for it if its policy allows (else SESSION_LIMIT). */
  private addSession(remote: Remote, evalSession: EvalSession): SessionRecord {
    let refusal: string | undefined;
    if (this.sessions.countForAddress(remote.address) >= this.maxSessionsPerAddress) {
      refusal = `at most ${this.maxSessionsPerAddress} open sessions per address`;
    } else if (this.sessions.size >= this.maxSessions) {
      const victim = this.sessions.evictionCandidate(remote.address, this.evictIdleMs);
      if (victim === undefined) refusal = `miner is at its limit of ${this.maxSessions} sessions`;
      else {
        this.log.debug({ evicted: victim.id, from: victim.address, for: remote.address }, "session evicted");
        this.sessions.remove(victim);
      }
    }
    if (refusal !== undefined) {
      evalSession.close();
      throw new SessionLimitError(refusal);
    }
    return this.sessions.add(remote.peerId, remote.address, evalSession);
  }

  private async evaluate(rec: SessionRecord, inputs: Uint8Array[]): Promise<Uint8Array[]> {
    this.sessions.begin(rec);
    const work = (async () => rec.eval.evaluate(inputs))();
    // end() runs when the evaluator really finishes, even if we stopped waiting for it
    work.then(() => this.sessions.end(rec), () => this.sessions.end(rec));
    const limit = deadline(this.options.evaluationTimeoutMs ?? 120_000);
    try {
      const outputs = await Promise.race([work, new Promise<never>((_, reject) => {
        limit.signal.addEventListener("abort", () => reject(new EvalFailedError("evaluation timed out")), { once: true });
      })]);
      const total = outputs.reduce((s, o) => s + o.byteLength, 0);
      if (outputs.length < 1 || outputs.length > this.limits.maxResultParts || total > this.limits.maxResultBytes ||
          outputs.some((o) => o.byteLength === 0)) {
        // Our own evaluator broke the contract; the client must not receive something it will refuse.
        throw new EvalFailedError(`evaluator produced ${outputs.length} outputs / ${total} bytes, outside the result caps`);
      }
      return outputs;
    } catch (err) {
      if (err instanceof CerberusError && err.code === "FHE_WORKER_LOST") {
        // The keys died with the FHE worker (it is being replaced): the client re-opens, on this miner if it likes.
        this.sessions.remove(rec);
        throw new UnknownSessionError(`session lost with its FHE worker; open a new one (${err.message})`);
      }
      if (err instanceof CerberusError && BAD_INPUT_CODES.has(err.code)) {
        throw new ProtocolError("BAD_CIPHERTEXT", `input refused [${err.code}]: ${err.message}`.slice(0, 512));
      }
      throw asWireError(err, "EVAL_FAILED", "evaluation failed");
    } finally {
      limit.clear();
    }
  }

  private healthReport(): OutgoingHeader {
    return {
      v: PROTOCOL_VERSION, type: "health-report", planId: this.planId,
      protocols: [INFER_PROTOCOL, HEALTH_PROTOCOL], software: this.software,
      uptimeMs: Math.max(0, Date.now() - this.startedAt), load: this.load, queue: this.queue,
    };
  }

  private errorReply(err: unknown, peerId: string): Reply {
    const wire = asWireError(err, "INTERNAL", "internal error");
    if (wire.code === "INTERNAL") this.log.error({ peerId, err }, "request failed");
    else this.log.debug({ peerId, code: wire.code, msg: wire.message }, "request refused");
    const header: OutgoingHeader = { v: PROTOCOL_VERSION, type: "error", code: wire.code, message: wire.message.slice(0, 512) };
    if (wire instanceof BusyError) header.retryAfterMs = wire.retryAfterMs;
    return { header, parts: [] };
  }
}

/**
 * Evaluator codes that mean "your input is bad", not "we failed" (nodes/fhe/errors.ts): the client learns
 * BAD_CIPHERTEXT and must not retry the same bytes elsewhere expecting a different answer.
 */
const BAD_INPUT_CODES: ReadonlySet<string> = new Set([
  "FHE_CIPHERTEXT_INVALID", "FHE_SIZE_CAP", "FHE_INFLATE_CAP", "FHE_SHAPE", "FHE_PARAMS_MISMATCH",
]);

/** Any thrown value → an error that is safe to put on the wire (a stable code, no stack, bounded message). */
function asWireError(err: unknown, fallback: WireErrorCode, what: string): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof CerberusError && isWireErrorCode(err.code)) return new ProtocolError(err.code, err.message);
  const detail = err instanceof Error ? err.message : String(err);
  const code = err instanceof CerberusError ? ` [${err.code}]` : "";
  return new ProtocolError(fallback, `${what}${code}: ${detail}`.slice(0, 512));
}
