import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import type { SessionKeys } from "../net/evaluator.ts";
import {
  MessageTooLargeError, ProtocolError, ProtocolViolationError, RemoteError, RequestTimeoutError, TransportError, UnreachableError,
  isWireErrorCode,
} from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { FrameReader, encodeMessage, readMessage, sendEncoded, type OutgoingHeader } from "../net/framing.ts";
import {
  DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthReplyHeader, INFER_PROTOCOL, InferReplyHeader, PROTOCOL_VERSION,
  type HealthReportHeader, type WireLimits,
} from "../net/messages.ts";

/** A miner as chain state describes it: its peer id and the multiaddrs it registered. */
export interface MinerAddress {
  peerId: string;
  multiaddrs: readonly string[];
}

export interface TransportOptions {
  limits?: Partial<WireLimits>;
  /** Per-step timeout, from dial to the last byte of the reply (default 30 s). */
  stepTimeoutMs?: number;
  /** Timeout of the session-open request, which uploads the keys (default 60 s). */
  openTimeoutMs?: number;
  /** Timeout of health and close requests (default 5 s). */
  controlTimeoutMs?: number;
  /**
   * Requests in flight to one miner at a time (default 8); more wait here, inside their timeout. Keeps us under
   * libp2p's per-connection stream caps, so a burst gets the miner's typed answers (BUSY, SESSION_LIMIT) instead of
   * stream resets.
   */
  maxConcurrentPerMiner?: number;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What one request/reply exchange cost on the wire. */
export interface ExchangeStats {
  bytesUp: number;
  bytesDown: number;
  /** Application-level request/reply exchanges (1 per request; stream negotiation is libp2p's and not counted). */
  roundTrips: number;
  ms: number;
}

export interface StepResult {
  outputs: Uint8Array[];
  seq: number;
  stats: ExchangeStats;
}

export interface SessionStats {
  open: ExchangeStats;
  steps: number;
  /** Totals over the steps only (the per-token cost; the key upload is in `open`). */
  bytesUp: number;
  bytesDown: number;
  roundTrips: number;
}

export type HealthReport = Omit<HealthReportHeader, "parts" | "type" | "v">;

/** Turns a chain record into dialable multiaddrs that pin the peer id (noise then proves we reached that peer). */
export function dialTargets(miner: MinerAddress): Multiaddr[] {
  if (miner.multiaddrs.length === 0) throw new UnreachableError(`miner ${miner.peerId} has no multiaddrs`);
  return miner.multiaddrs.map((a) => {
    const ma = multiaddr(a);
    const pinned = ma.getComponents().find((c) => c.name === "p2p")?.value;
    if (pinned === undefined) return ma.encapsulate(`/p2p/${miner.peerId}`);
    if (pinned !== miner.peerId) throw new UnreachableError(`multiaddr ${a} names peer ${pinned}, not ${miner.peerId}`);
    return ma;
  });
}

/**
 * The client side of /cerberus/infer/1.0.0 and /cerberus/health/1.0.0. Users AND validators go through this class;
 * it has no notion of who is asking, so a challenge and a user request are the same bytes for the same inputs.
 */
export class InferClient {
  readonly limits: WireLimits;
  readonly stepTimeoutMs: number;
  readonly openTimeoutMs: number;
  readonly controlTimeoutMs: number;
  private readonly firstExchange = new WeakMap<Connection, Promise<void>>();
  private readonly maxConcurrentPerMiner: number;
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly node: Libp2p, options: TransportOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.stepTimeoutMs = options.stepTimeoutMs ?? 30_000;
    this.openTimeoutMs = options.openTimeoutMs ?? 60_000;
    this.controlTimeoutMs = options.controlTimeoutMs ?? 5_000;
    this.maxConcurrentPerMiner = options.maxConcurrentPerMiner ?? 8;
  }

  /** Dials the miner and uploads the session's public evaluation keys (once per session). */
  async openSession(miner: MinerAddress, keys: SessionKeys, options: RequestOptions = {}): Promise<RemoteSession> {
    const total = keys.galoisKeys.byteLength + keys.relinKeys.byteLength;
    if (total > this.limits.maxOpenBytes) {
      throw new MessageTooLargeError(`keys of ${total} bytes exceed the open cap of ${this.limits.maxOpenBytes}`);
    }
    const reply = await this.exchange(miner, INFER_PROTOCOL,
      { v: PROTOCOL_VERSION, type: "open", planId: keys.planId }, [keys.galoisKeys, keys.relinKeys],
      InferReplyHeader, options.timeoutMs ?? this.openTimeoutMs, options.signal);
    const h = reply.header;
    if (h.type !== "opened" || h.planId !== keys.planId) {
      throw new ProtocolViolationError(`expected "opened" for plan ${keys.planId}, got ${JSON.stringify(h).slice(0, 200)}`);
    }
    return new RemoteSession(this, miner, h.sessionId, h.planId, h.idleTtlMs, reply.stats);
  }

  async health(miner: MinerAddress, options: RequestOptions = {}): Promise<HealthReport> {
    const reply = await this.exchange(miner, HEALTH_PROTOCOL, { v: PROTOCOL_VERSION, type: "health" }, [],
      HealthReplyHeader, options.timeoutMs ?? this.controlTimeoutMs, options.signal);
    if (reply.header.type !== "health-report") throw new ProtocolViolationError("expected a health report");
    const { v: _v, type: _t, parts: _p, ...report } = reply.header;
    return report;
  }

  /**
   * One request/reply on a fresh stream. Typed failures: RemoteError (the miner's `error` reply, its code),
   * TIMEOUT, UNREACHABLE (dial failed / reset before a reply), PROTOCOL_VIOLATION (a reply we cannot accept).
   */
  async exchange<H extends { type: string; parts: number[] }>(
    miner: MinerAddress, protocol: string, header: OutgoingHeader, parts: readonly Uint8Array[],
    replySchema: z.ZodType<H>, timeoutMs: number, signal?: AbortSignal,
  ): Promise<{ header: H; parts: Uint8Array[]; stats: ExchangeStats }> {
    const started = performance.now();
    const timer = deadline(timeoutMs);
    let release: (() => void) | undefined;
    try {
      release = await this.acquire(miner.peerId, signal === undefined ? timer.signal : AbortSignal.any([timer.signal, signal]));
      return await this.exchangeWithin(miner, protocol, header, parts, replySchema, timeoutMs, timer.signal, signal, started);
    } catch (err) {
      if (release === undefined) { // timed out / aborted while queued
        if (signal?.aborted === true) throw new TransportError("ABORTED", "request aborted by the caller", { cause: err });
        throw new RequestTimeoutError(`no slot for ${short(miner)} within ${timeoutMs} ms`);
      }
      throw err;
    } finally {
      release?.();
      timer.clear();
    }
  }

  private async acquire(peerId: string, signal: AbortSignal): Promise<() => void> {
    let slot = this.slots.get(peerId);
    if (slot === undefined) this.slots.set(peerId, slot = { active: 0, waiting: [] });
    const s = slot;
    while (s.active >= this.maxConcurrentPerMiner) {
      const turn = Promise.withResolvers<void>();
      s.waiting.push(turn.resolve);
      try {
        await raceAbort(turn.promise, signal);
      } catch (err) {
        const i = s.waiting.indexOf(turn.resolve);
        if (i >= 0) s.waiting.splice(i, 1);
        else s.waiting.shift()?.(); // we were woken and are leaving: pass the turn on
        throw err;
      }
    }
    s.active += 1;
    return () => {
      s.active -= 1;
      s.waiting.shift()?.();
      if (s.active === 0 && s.waiting.length === 0) this.slots.delete(peerId);
    };
  }

  private async exchangeWithin<H extends { type: string; parts: number[] }>(
    miner: MinerAddress, protocol: string, header: OutgoingHeader, parts: readonly Uint8Array[],
    replySchema: z.ZodType<H>, timeoutMs: number, timeout: AbortSignal, signal: AbortSignal | undefined,
    started: number,
  ): Promise<{ header: H; parts: Uint8Array[]; stats: ExchangeStats }> {
    const combined = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
    const failure = (err: unknown): CerberusError => {
      if (signal?.aborted === true) return new TransportError("ABORTED", "request aborted by the caller", { cause: err });
      if (timeout.aborted) return new RequestTimeoutError(`no reply from ${short(miner)} within ${timeoutMs} ms`);
      if (err instanceof ProtocolError) {
        return new ProtocolViolationError(`bad reply from ${short(miner)}: ${err.message}`, { cause: err });
      }
      return new UnreachableError(`${short(miner)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    };

    let stream: Stream;
    let opened: (() => void) | undefined;
    try {
      const conn = await this.node.dial(dialTargets(miner), { signal: combined });
      // The remote muxer kills a connection on which more than 10 streams arrive before its upgrade finished
      // (yamux "early streams"). So the first stream on a connection goes alone; the rest wait for its reply.
      const gate = this.firstExchange.get(conn);
      if (gate === undefined) {
        const first = Promise.withResolvers<void>();
        this.firstExchange.set(conn, first.promise);
        opened = () => first.resolve();
      } else {
        await raceAbort(gate, combined);
      }
      stream = await conn.newStream(protocol, { signal: combined });
    } catch (err) {
      opened?.();
      throw failure(err);
    }
    try {
      return await this.sendAndReceive(stream, miner, header, parts, replySchema, combined, started, failure);
    } finally {
      opened?.();
    }
  }

  private async sendAndReceive<H extends { type: string; parts: number[] }>(
    stream: Stream, miner: MinerAddress, header: OutgoingHeader, parts: readonly Uint8Array[],
    replySchema: z.ZodType<H>, combined: AbortSignal, started: number, failure: (err: unknown) => CerberusError,
  ): Promise<{ header: H; parts: Uint8Array[]; stats: ExchangeStats }> {
    const bytes = encodeMessage(header, parts);
    const reader = new FrameReader(stream);
    // Start reading before sending: a miner may refuse after the header, while we are still sending the payload.
    const replyP = readMessage(reader, this.limits, replySchema);
    let sendFailed: unknown;
    sendEncoded(stream, bytes, { signal: combined }).catch((err: unknown) => { sendFailed = err; });
    replyP.catch(() => {}); // if the caller's signal wins the race, the read's failure is expected
    let reply;
    try {
      reply = await raceAbort(replyP, combined);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw failure(err);
    }
    if (reply === undefined) {
      stream.abort(new Error("no reply"));
      throw failure(sendFailed ?? new Error("stream closed without a reply"));
    }
    if (reply.header.type === "error") {
      stream.abort(new Error("error reply")); // we may still be sending a refused payload: drop it
      const e = reply.header as unknown as { code: string; message: string; retryAfterMs?: number };
      if (!isWireErrorCode(e.code)) throw new ProtocolViolationError(`unknown error code ${e.code}: ${e.message}`);
      throw new RemoteError(e.code, e.message, miner.peerId, e.retryAfterMs);
    }
    const closing = deadline(this.controlTimeoutMs);
    stream.close({ signal: closing.signal })
      .catch((err: unknown) => stream.abort(err instanceof Error ? err : new Error(String(err))))
      .finally(() => closing.clear());
    return {
      header: reply.header, parts: reply.parts,
      stats: { bytesUp: bytes.byteLength, bytesDown: reply.wireBytes, roundTrips: 1, ms: performance.now() - started },
    };
  }
}

/** An open session on one miner. Steps are sequential per session; `seq` counts them from 0. */
export class RemoteSession {
  readonly stats: SessionStats;
  private nextSeq = 0;
  private closed = false;

  constructor(
    private readonly client: InferClient,
    readonly miner: MinerAddress,
    readonly sessionId: string,
    readonly planId: string,
    readonly idleTtlMs: number,
    openStats: ExchangeStats,
  ) {
    this.stats = { open: openStats, steps: 0, bytesUp: 0, bytesDown: 0, roundTrips: 0 };
  }

  get peerId(): string { return this.miner.peerId; }
  get isClosed(): boolean { return this.closed; }

  /** Ciphertexts in, ciphertexts out. */
  async step(inputs: readonly Uint8Array[], options: RequestOptions = {}): Promise<StepResult> {
    if (this.closed) throw new TransportError("SESSION_CLOSED", "session was closed locally");
    const limits = this.client.limits;
    const total = inputs.reduce((s, i) => s + i.byteLength, 0);
    if (inputs.length === 0 || inputs.length > limits.maxStepParts || total > limits.maxStepBytes) {
      throw new MessageTooLargeError(`step of ${inputs.length} parts / ${total} bytes is outside the step caps`);
    }
    const seq = this.nextSeq++;
    const reply = await this.client.exchange(this.miner, INFER_PROTOCOL,
      { v: PROTOCOL_VERSION, type: "step", sessionId: this.sessionId, seq }, inputs,
      InferReplyHeader, options.timeoutMs ?? this.client.stepTimeoutMs, options.signal);
    const h = reply.header;
    if (h.type !== "result" || h.sessionId !== this.sessionId || h.seq !== seq) {
      throw new ProtocolViolationError(`expected result ${this.sessionId}#${seq}, got ${JSON.stringify(h).slice(0, 200)}`);
    }
    this.stats.steps += 1;
    this.stats.bytesUp += reply.stats.bytesUp;
    this.stats.bytesDown += reply.stats.bytesDown;
    this.stats.roundTrips += reply.stats.roundTrips;
    return { outputs: reply.parts, seq, stats: reply.stats };
  }

  /** Tells the miner to drop our keys. Idempotent; failures are reported but the session is closed locally anyway. */
  async close(options: RequestOptions = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reply = await this.client.exchange(this.miner, INFER_PROTOCOL,
      { v: PROTOCOL_VERSION, type: "close", sessionId: this.sessionId }, [], InferReplyHeader,
      options.timeoutMs ?? this.client.controlTimeoutMs, options.signal);
    if (reply.header.type !== "closed") throw new ProtocolViolationError("expected closed");
  }
}

/** Resolves with `p`, or rejects with the signal's reason as soon as it aborts. */
async function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    })]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}

function short(miner: MinerAddress): string {
  return `miner ${miner.peerId.slice(-8)}`;
}
