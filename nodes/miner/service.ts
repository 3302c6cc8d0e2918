import type { Libp2p, Stream, Connection } from "@libp2p/interface";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import type { MinerEvaluator, SessionPeer } from "../net/evaluator.ts";
import {
  BusyError, EvalFailedError, MalformedMessageError, PlanMismatchError, ProtocolError, SessionLimitError,
  UnknownSessionError, isWireErrorCode, type WireErrorCode,
} from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { FrameReader, readMessage, writeMessage, type OutgoingHeader } from "../net/framing.ts";
import {
  DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthRequestHeader, INFER_PROTOCOL, InferRequestHeader, PROTOCOL_VERSION,
  type InferRequestHeader as InferRequest, type WireLimits,
} from "../net/messages.ts";
import { SessionTable, type SessionRecord } from "./sessions.ts";

export interface MinerServiceOptions {
  /** The FHE engine (or a wrapper such as FaultyEvaluator). */
  evaluator: MinerEvaluator;
  /** Byte caps per message type (defaults: DEFAULT_LIMITS). */
  limits?: Partial<WireLimits>;
  /** Open sessions in total (default 64) and per peer (default 4). */
  maxSessions?: number;
  maxSessionsPerPeer?: number;
  /** Requests (open/step) being processed in total (default 8) and per peer (default 2). Beyond → BUSY. */
  maxInflight?: number;
  maxInflightPerPeer?: number;
  /** A session's keys are dropped after this long without a step (default 10 min)… */
  sessionIdleTtlMs?: number;
  /** …or this long after opening, whichever is first (default 1 h). */
  sessionMaxLifetimeMs?: number;
  /** A request must arrive completely within this time of its stream opening or its header (default 60 s). */
  requestReadTimeoutMs?: number;
  /** A stream kept open between requests is reset after this long without one (default 30 s). */
  streamIdleTimeoutMs?: number;
  /**
   * An evaluation (or key load) that takes longer is answered with EVAL_FAILED and its request slot freed
   * (default 120 s). The session stays busy until the evaluator actually returns, so its keys are never freed
   * under a running evaluation.
   */
  evaluationTimeoutMs?: number;
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
}

export interface MinerLoad {
  sessions: number;
  maxSessions: number;
  inflight: number;
  maxInflight: number;
}

interface Reply { header: OutgoingHeader; parts: Uint8Array[] }

/**
 * Serves /cerberus/infer/1.0.0 and /cerberus/health/1.0.0 on a libp2p node: request/reply pairs on each stream,
 * sessions cached with expiry, limits per peer and in total, every failure answered with a typed `error` reply.
 * It never sees a secret key or a plaintext: it passes opaque bytes to the injected evaluator.
 */
export class MinerService {
  readonly limits: WireLimits;
  private readonly sessions: SessionTable;
  private readonly log: Logger;
  private readonly maxSessions: number;
  private readonly maxSessionsPerPeer: number;
  private readonly maxInflight: number;
  private readonly maxInflightPerPeer: number;
  private readonly readTimeoutMs: number;
  private readonly streamIdleMs: number;
  private readonly idleTtlMs: number;
  private readonly software: string;
  private inflight = 0;
  private readonly inflightByPeer = new Map<string, number>();
  private pendingOpens = 0;
  private readonly pendingOpensByPeer = new Map<string, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private stopping = false;

  constructor(private readonly node: Libp2p, private readonly options: MinerServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.maxSessions = options.maxSessions ?? 64;
    this.maxSessionsPerPeer = options.maxSessionsPerPeer ?? 4;
    this.maxInflight = options.maxInflight ?? 8;
    this.maxInflightPerPeer = options.maxInflightPerPeer ?? 2;
    this.readTimeoutMs = options.requestReadTimeoutMs ?? 60_000;
    this.streamIdleMs = options.streamIdleTimeoutMs ?? 30_000;
    this.idleTtlMs = options.sessionIdleTtlMs ?? 10 * 60_000;
    this.software = options.software ?? "cerberus-miner/0.1.0";
    this.sessions = new SessionTable({
      idleTtlMs: this.idleTtlMs, maxLifetimeMs: options.sessionMaxLifetimeMs ?? 60 * 60_000,
    });
    this.log = options.logger ?? createLogger("miner");
  }

  get planId(): string { return this.options.evaluator.planId; }

  get load(): MinerLoad {
    return { sessions: this.sessions.size, maxSessions: this.maxSessions, inflight: this.inflight, maxInflight: this.maxInflight };
  }

  async start(): Promise<void> {
    this.startedAt = Date.now();
    this.stopping = false;
    // Let more streams through than we serve concurrently, so excess load gets a typed BUSY, not a stream reset.
    const maxInboundStreams = 256;
    await this.node.handle(INFER_PROTOCOL, (stream, conn) => this.serve(stream, conn, INFER_PROTOCOL),
      { maxInboundStreams });
    await this.node.handle(HEALTH_PROTOCOL, (stream, conn) => this.serve(stream, conn, HEALTH_PROTOCOL),
      { maxInboundStreams: 8 });
    const every = Math.max(50, Math.min(5_000, Math.floor(this.idleTtlMs / 4)));
    this.sweeper = setInterval(() => {
      const n = this.sessions.sweep();
      if (n > 0) this.log.debug({ expired: n }, "sessions expired");
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

  // ---- a stream carries requests one after another: read one, answer it, read the next
  private async serve(stream: Stream, connection: Connection, protocol: string): Promise<void> {
    const peer: SessionPeer = { peerId: connection.remotePeer.toString(), remoteAddr: connection.remoteAddr.toString() };
    const reader = new FrameReader(stream);
    for (let n = 0; ; n++) {
      const again = await this.serveOne(stream, reader, peer, { connectionId: connection.id, streamId: stream.id, n }, protocol);
      if (!again) return;
    }
  }

  /** Serves one request on the stream; returns whether the stream stays open for another. */
  private async serveOne(
    stream: Stream, reader: FrameReader, peer: SessionPeer, at: { connectionId: string; streamId: string; n: number },
    protocol: string,
  ): Promise<boolean> {
    const { peerId } = peer;
    const first = at.n === 0;
    const event: RequestEvent = {
      peerId, remoteAddr: peer.remoteAddr, connectionId: at.connectionId, streamId: at.streamId, requestOnStream: at.n,
      protocol, partSizes: [], wireBytes: 0, outcome: "",
    };
    // Before a header: the first request must come within the read timeout, later ones within the idle timeout.
    // After the header: the rest of the message must come within the read timeout.
    let timer = setTimeout(() => stream.abort(new Error(first ? "request not received in time" : "stream idle")),
      first ? this.readTimeoutMs : this.streamIdleMs);
    const headerArrived = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stream.abort(new Error("request not received in time")), this.readTimeoutMs);
    };
    const release: (() => void)[] = [];
    let reply: Reply;
    try {
      if (protocol === HEALTH_PROTOCOL) {
        const msg = await readMessage(reader, this.limits, HealthRequestHeader, headerArrived);
        clearTimeout(timer);
        if (msg === undefined) return await this.endOfStream(stream, first);
        event.header = msg.header;
        event.headerJson = msg.headerJson;
        event.wireBytes = msg.wireBytes;
        reply = { header: this.healthReport(), parts: [] };
      } else {
        const msg = await readMessage(reader, this.limits, InferRequestHeader, (h) => {
          headerArrived();
          event.receivedAt = Date.now();
          event.header = h;
          if (h.type !== "open") event.sessionId = h.sessionId;
          release.push(...this.admit(peerId, h));
        });
        clearTimeout(timer);
        if (msg === undefined) return await this.endOfStream(stream, first);
        event.partSizes = msg.parts.map((p) => p.byteLength);
        event.headerJson = msg.headerJson;
        event.wireBytes = msg.wireBytes;
        reply = await this.dispatch(peer, msg.header, msg.parts);
        if (reply.header.type === "opened") event.sessionId = String(reply.header.sessionId);
      }
    } catch (err) {
      clearTimeout(timer);
      if (stream.status !== "open") {
        // Reset by the peer, or our timeout: nobody to answer. (An idle stream timing out is not a request.)
        for (const r of release.splice(0)) r();
        if (event.header !== undefined || first) {
          event.outcome = "ABORTED";
          this.options.onRequest?.(event);
        }
        return false;
      }
      reply = this.errorReply(err, peerId);
      // Whatever the peer is still sending (e.g. the payload of a refused open) is dropped, not buffered.
      await stream.closeRead().catch(() => {});
    } finally {
      for (const r of release.splice(0)) r();
    }
    const isError = reply.header.type === "error";
    event.outcome = isError ? String(reply.header.code) : reply.header.type;
    const sending = deadline(this.readTimeoutMs);
    let delivered = false;
    try {
      await writeMessage(stream, reply.header, reply.parts, { signal: sending.signal });
      // After an error the stream may be out of sync (an unread payload): end it. Otherwise keep it for the next.
      if (isError) await stream.close({ signal: sending.signal });
      delivered = true;
    } catch (err) {
      this.log.debug({ peerId, err: String(err) }, "could not deliver reply");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      sending.clear();
    }
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
   * header, not 16 MiB of buffer. Returns the releases of what it reserved.
   */
  private admit(peerId: string, h: InferRequest): (() => void)[] {
    if (this.stopping) throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
    if (h.type === "close") return [];
    if (h.type === "open") {
      if (h.planId !== this.planId) throw new PlanMismatchError(`this miner serves plan ${this.planId}`);
      const mine = this.sessions.countFor(peerId) + (this.pendingOpensByPeer.get(peerId) ?? 0);
      if (mine >= this.maxSessionsPerPeer) {
        throw new SessionLimitError(`at most ${this.maxSessionsPerPeer} open sessions per peer; close one first`);
      }
      if (this.sessions.size + this.pendingOpens >= this.maxSessions) {
        throw new SessionLimitError(`miner is at its limit of ${this.maxSessions} sessions`);
      }
    } else if (this.sessions.get(h.sessionId, peerId) === undefined) {
      throw new UnknownSessionError("no such session (never opened, expired or closed); open a new one");
    }
    const peerInflight = this.inflightByPeer.get(peerId) ?? 0;
    if (peerInflight >= this.maxInflightPerPeer) {
      throw new BusyError(`at most ${this.maxInflightPerPeer} requests in flight per peer`);
    }
    if (this.inflight >= this.maxInflight) throw new BusyError("miner is at capacity");
    this.inflight += 1;
    this.inflightByPeer.set(peerId, peerInflight + 1);
    const releases = [() => {
      this.inflight -= 1;
      const n = (this.inflightByPeer.get(peerId) ?? 1) - 1;
      if (n > 0) this.inflightByPeer.set(peerId, n);
      else this.inflightByPeer.delete(peerId);
    }];
    if (h.type === "open") {
      this.pendingOpens += 1;
      this.pendingOpensByPeer.set(peerId, (this.pendingOpensByPeer.get(peerId) ?? 0) + 1);
      releases.push(() => {
        this.pendingOpens -= 1;
        const n = (this.pendingOpensByPeer.get(peerId) ?? 1) - 1;
        if (n > 0) this.pendingOpensByPeer.set(peerId, n);
        else this.pendingOpensByPeer.delete(peerId);
      });
    }
    return releases;
  }

  private async dispatch(peer: SessionPeer, h: InferRequest, parts: Uint8Array[]): Promise<Reply> {
    const v = PROTOCOL_VERSION;
    const { peerId } = peer;
    switch (h.type) {
      case "open": {
        const [galoisKeys, relinKeys] = parts as [Uint8Array, Uint8Array];
        let evalSession;
        try {
          evalSession = await this.options.evaluator.openSession({ planId: h.planId, galoisKeys, relinKeys }, peer);
        } catch (err) {
          throw asWireError(err, "BAD_KEYS", "session keys rejected");
        }
        if (this.stopping) {
          evalSession.close();
          throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
        }
        const rec = this.sessions.add(peerId, evalSession);
        this.log.debug({ peerId, sessionId: rec.id }, "session opened");
        return { header: { v, type: "opened", sessionId: rec.id, planId: this.planId, idleTtlMs: this.idleTtlMs }, parts: [] };
      }
      case "step": {
        const rec = this.sessions.get(h.sessionId, peerId);
        if (rec === undefined) throw new UnknownSessionError("session expired while the step was arriving");
        const outputs = await this.evaluate(rec, parts);
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
      throw asWireError(err, "EVAL_FAILED", "evaluation failed");
    } finally {
      limit.clear();
    }
  }

  private healthReport(): OutgoingHeader {
    return {
      v: PROTOCOL_VERSION, type: "health-report", planId: this.planId,
      protocols: [INFER_PROTOCOL, HEALTH_PROTOCOL], software: this.software,
      uptimeMs: Math.max(0, Date.now() - this.startedAt), load: this.load,
    };
  }

  private errorReply(err: unknown, peerId: string): Reply {
    const wire = asWireError(err, "INTERNAL", "internal error");
    if (wire.code === "INTERNAL") this.log.error({ peerId, err }, "request failed");
    else this.log.debug({ peerId, code: wire.code, msg: wire.message }, "request refused");
    const header: OutgoingHeader = { v: PROTOCOL_VERSION, type: "error", code: wire.code, message: wire.message.slice(0, 512) };
    if (wire.code === "BUSY") header.retryAfterMs = 250;
    return { header, parts: [] };
  }
}

/** Any thrown value → an error that is safe to put on the wire (a stable code, no stack, bounded message). */
function asWireError(err: unknown, fallback: WireErrorCode, what: string): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof CerberusError && isWireErrorCode(err.code)) return new ProtocolError(err.code, err.message);
  const detail = err instanceof Error ? err.message : String(err);
  const code = err instanceof CerberusError ? ` [${err.code}]` : "";
  return new ProtocolError(fallback, `${what}${code}: ${detail}`.slice(0, 512));
}
