import type { Libp2p, Stream, Connection } from "@libp2p/interface";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import type { MinerEvaluator } from "../net/evaluator.ts";
import { remoteHost } from "../net/address-gate.ts";
import { MalformedMessageError, ProtocolError } from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { FrameReader, readMessage, writeMessage, type OutgoingHeader } from "../net/framing.ts";
import {
  DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthRequestHeader, Hotkey, INFER_PROTOCOL, InferRequestHeader, PROTOCOL_VERSION,
  type HealthQueue, type WireLimits,
} from "../net/messages.ts";
import { Admission, MINER_TOTALS, type MinerLoad, type Remote } from "./admission.ts";
import { errorReply, type Reply } from "./replies.ts";
import { SessionRequests } from "./requests.ts";
import { SessionTable, type SessionEnd, type SessionRecord } from "./sessions.ts";

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

/** The stream's bytes, counted as they arrive (the minimum-rate check reads the count). */
async function* counted(stream: Stream, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    counter.bytes += chunk.byteLength;
    yield chunk instanceof Uint8Array ? chunk : chunk.subarray();
  }
}

/**
 * Serves /cerberus/infer/1.0.0 and /cerberus/health/1.0.0 on a libp2p node: reads the requests of each stream one
 * after another (a header within seconds, a payload at a minimum rate), asks `Admission` whether each may enter,
 * lets `SessionRequests` carry it out, and writes the reply — every failure a typed `error` reply. It never sees a
 * secret key or a plaintext: it passes opaque bytes to the injected evaluator.
 */
export class MinerService {
  readonly limits: WireLimits;
  readonly hotkey: string;
  readonly workers: number;
  private readonly sessions: SessionTable;
  private readonly admission: Admission;
  private readonly requests: SessionRequests;
  private readonly log: Logger;
  private readonly headerTimeoutMs: number;
  private readonly minRate: number;
  private readonly graceMs: number;
  private readonly connIdleMs: number;
  private readonly replyTimeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly idleTtlMs: number;
  private readonly software: string;
  private readonly lastActivity = new WeakMap<Connection, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stopping = false;

  constructor(private readonly node: Libp2p, private readonly options: MinerServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.headerTimeoutMs = options.headerTimeoutMs ?? 5_000;
    this.minRate = options.minTransferRate ?? 128 * 1024;
    this.graceMs = options.payloadGraceMs ?? 5_000;
    this.connIdleMs = options.connectionIdleTimeoutMs ?? 60_000;
    this.replyTimeoutMs = options.requestReadTimeoutMs ?? 60_000;
    this.streamIdleMs = options.streamIdleTimeoutMs ?? 30_000;
    this.idleTtlMs = options.sessionIdleTtlMs ?? 10 * 60_000;
    this.software = options.software ?? "cerberus-miner/0.1.0";
    this.workers = Math.max(1, Math.floor(options.workers ?? options.evaluator.parallelism ?? 1));
    this.hotkey = options.hotkey.toLowerCase();
    if (!Hotkey.safeParse(this.hotkey).success) throw new CerberusError("BAD_HOTKEY", `not an EVM address: ${options.hotkey}`);
    this.log = options.logger ?? createLogger("miner");
    this.sessions = new SessionTable({
      idleTtlMs: this.idleTtlMs, maxLifetimeMs: options.sessionMaxLifetimeMs ?? 60 * 60_000,
      onEnd: (rec, why) => logSessionEnd(this.log, rec, why),
    });
    const maxInflightPerPeer = options.maxInflightPerPeer ?? 2;
    this.admission = new Admission({
      maxSessions: options.maxSessions ?? MINER_TOTALS.maxSessions,
      maxSessionsPerPeer: options.maxSessionsPerPeer ?? 4,
      maxSessionsPerAddress: options.maxSessionsPerAddress ?? 16,
      evictIdleMs: options.evictIdleSessionsAfterMs ?? 60_000,
      maxInflight: options.maxInflight ?? MINER_TOTALS.maxInflight,
      maxInflightPerPeer,
      maxInflightPerAddress: options.maxInflightPerAddress ?? 4,
      maxPendingPerPeer: options.maxPendingPerPeer ?? maxInflightPerPeer,
      maxPendingPerAddress: options.maxPendingPerAddress ?? 8,
      maxPendingBytes: options.maxPendingBytes ?? 128 * 2 ** 20,
      workers: this.workers,
      maxQueueWaitMs: options.maxQueueWaitMs ?? 5_000,
      stepMsHint: options.stepMsHint ?? 500,
      recentStepWindow: options.recentStepWindow ?? 32,
    }, this.sessions, options.evaluator.planId);
    this.requests = new SessionRequests({
      evaluator: options.evaluator, sessions: this.sessions, admission: this.admission, limits: this.limits,
      hotkey: this.hotkey, idleTtlMs: this.idleTtlMs, evaluationTimeoutMs: options.evaluationTimeoutMs ?? 120_000,
      stopping: () => this.stopping, log: this.log,
    });
  }

  get planId(): string { return this.options.evaluator.planId; }

  get load(): MinerLoad { return this.admission.load; }

  /** The queue as health states it. */
  get queue(): HealthQueue { return this.admission.queue; }

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
          if (this.stopping) throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
          pending.push(...this.admission.atHeader(remote, h, declared));
          headerArrived(declared);
        });
        stopTimers();
        arrived = performance.now();
        for (const r of pending.splice(0)) r();
        if (msg === undefined) return await this.endOfStream(stream, first);
        event.partSizes = msg.parts.map((p) => p.byteLength);
        event.headerJson = msg.headerJson;
        event.wireBytes = msg.wireBytes;
        if (msg.header.type === "open") release.push(...this.admission.openArrived(remote));
        if (msg.header.type !== "close") release.push(...this.admission.takeSlot(remote));
        reply = await this.requests.handle(remote, msg.header, msg.parts);
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
      reply = errorReply(err, peerId, this.log);
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

  private healthReport(): OutgoingHeader {
    return {
      v: PROTOCOL_VERSION, type: "health-report", planId: this.planId,
      protocols: [INFER_PROTOCOL, HEALTH_PROTOCOL], software: this.software,
      uptimeMs: Math.max(0, Date.now() - this.startedAt), load: this.load, queue: this.queue,
    };
  }
}

/**
 * One line per session when it ends, for the operator: who (peer, address), how many words (steps), the evaluation
 * time per word, the bytes each way and the key upload. The miner sees only ciphertexts, so that is all there is.
 */
function logSessionEnd(log: Logger, rec: SessionRecord, why: SessionEnd): void {
  const u = rec.usage;
  log.info({
    session: rec.id.slice(0, 12), peerId: rec.peerId, address: rec.address, why, words: u.steps,
    msPerWord: u.steps > 0 ? Math.round(u.evalMs / u.steps) : null, bytesIn: u.bytesIn, bytesOut: u.bytesOut,
    keyBytes: u.keyBytes, lifetimeS: Math.round((Date.now() - rec.openedAt) / 1000),
  }, "session ended");
}
