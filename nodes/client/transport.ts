import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { z } from "zod";
import { CerberusError, errorMessage } from "../core/errors.ts";
import type { SessionKeys } from "../net/evaluator.ts";
import {
  HotkeyMismatchError, MessageTooLargeError, ProtocolError, ProtocolViolationError, RemoteError, RequestTimeoutError, TransportError, UnreachableError,
  isWireErrorCode,
} from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { FrameReader, encodeMessage, readMessage, sendEncoded, type DecodedMessage, type OutgoingHeader } from "../net/framing.ts";
import {
  DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthReplyHeader, INFER_PROTOCOL, InferReplyHeader, PROTOCOL_VERSION,
  type HealthReportHeader, type WireLimits,
} from "../net/messages.ts";

/** A miner as chain state describes it: its peer id and the multiaddrs it registered. */
export interface MinerAddress {
  peerId: string;
  multiaddrs: readonly string[];
  /**
   * The hotkey of the on-chain seat this address came from. When set, `opened` must state it (else
   * HOTKEY_MISMATCH); always set it for miners read from chain state (`seatAddress`).
   */
  hotkey?: string;
  /** The seat's incentive relative to the best seat's (0..1), if known: miner selection weighs it (selection.ts). */
  incentive?: number;
}

/** The dial target of an on-chain miner seat, bound to the seat's hotkey. */
export function seatAddress(seat: { peerId: string; multiaddrs: readonly string[]; hotkey: string }): MinerAddress {
  return { peerId: seat.peerId, multiaddrs: seat.multiaddrs, hotkey: seat.hotkey.toLowerCase() };
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

/** A step request's options: for round plans, which round of the word it is (echoed in the result). */
export interface StepOptions extends RequestOptions {
  round?: number;
}

/** What one request/reply exchange cost on the wire. */
export interface ExchangeStats {
  bytesUp: number;
  bytesDown: number;
  /** Network round trips: 1 for the request/reply, +1 if a new stream had to be negotiated (multistream-select). */
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
  private readonly firstStream = new WeakMap<Connection, Promise<void>>();
  private readonly pools = new Map<string, Channel[]>();
  private closed = false;
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
    const session = new RemoteSession(this, miner, h.sessionId, h.planId, h.idleTtlMs, reply.stats, h.hotkey);
    if (miner.hotkey !== undefined && h.hotkey !== miner.hotkey.toLowerCase()) {
      // Not the seat's miner: free its slot (best effort) and never step on it.
      void session.close({ timeoutMs: 1_000 }).catch(() => {});
      throw new HotkeyMismatchError(miner.peerId, miner.hotkey.toLowerCase(), h.hotkey);
    }
    return session;
  }

  async health(miner: MinerAddress, options: RequestOptions = {}): Promise<HealthReport> {
    const reply = await this.exchange(miner, HEALTH_PROTOCOL, { v: PROTOCOL_VERSION, type: "health" }, [],
      HealthReplyHeader, options.timeoutMs ?? this.controlTimeoutMs, options.signal);
    if (reply.header.type !== "health-report") throw new ProtocolViolationError("expected a health report");
    const { v: _v, type: _t, parts: _p, ...report } = reply.header;
    return report;
  }

  /**
   * One request/reply: on an idle stream to this miner if we have one (1 round trip), else on a newly negotiated
   * stream (2 round trips: multistream-select, then the request). Typed failures: RemoteError (the miner's `error` reply, its code),
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
      return new UnreachableError(`${short(miner)}: ${errorMessage(err)}`, { cause: err });
    };

    for (let attempt = 0; ; attempt++) {
      let ch: Channel;
      try {
        ch = await this.takeChannel(miner, protocol, combined);
      } catch (err) {
        throw failure(err);
      }
      try {
        const { reply, bytesUp } = await this.roundTrip(ch, miner, header, parts, replySchema, combined);
        this.putChannel(miner.peerId, protocol, ch);
        return {
          header: reply.header, parts: reply.parts,
          stats: {
            bytesUp, bytesDown: reply.wireBytes,
            // a fresh stream costs one more round trip: multistream-select waits for the miner's protocol echo
            roundTrips: ch.fresh ? 2 : 1,
            ms: performance.now() - started,
          },
        };
      } catch (err) {
        if (ch.stream.status === "open") ch.stream.abort(err instanceof Error ? err : new Error(String(err)));
        if (err instanceof RemoteError) throw err;
        // A reused stream may have been dropped by the miner while idle just as we sent: retry once on a fresh
        // one. (A step is a pure function of its inputs, so a duplicate evaluation costs time, not correctness.)
        if (!ch.fresh && attempt === 0 && !combined.aborted && !(err instanceof ProtocolError)) continue;
        throw failure(err);
      }
    }
  }

  /** An idle stream to this miner for this protocol, or a newly negotiated one. */
  private async takeChannel(miner: MinerAddress, protocol: string, signal: AbortSignal): Promise<Channel> {
    const pool = this.pools.get(poolKey(miner.peerId, protocol));
    while (pool !== undefined && pool.length > 0) {
      const ch = pool.pop()!;
      const s = ch.stream;
      if (s.status === "open" && s.writeStatus === "writable" && s.readStatus === "readable" &&
          s.remoteWriteStatus === "writable") {
        return { ...ch, fresh: false };
      }
      s.abort(new Error("stale stream"));
    }
    const conn = await this.node.dial(dialTargets(miner), { signal });
    // The remote muxer kills a connection on which more than 10 streams arrive before its upgrade finished
    // (yamux "early streams"). So the first stream on a connection is negotiated alone; once the miner has
    // answered its protocol negotiation, its muxer is listening and the rest may follow.
    const gate = this.firstStream.get(conn);
    let opened: (() => void) | undefined;
    if (gate === undefined) {
      const first = Promise.withResolvers<void>();
      this.firstStream.set(conn, first.promise);
      opened = () => first.resolve();
    } else {
      await raceAbort(gate, signal);
    }
    try {
      const stream = await conn.newStream(protocol, { signal });
      return { stream, reader: new FrameReader(stream), fresh: true };
    } finally {
      opened?.();
    }
  }

  /** Keeps a stream that completed an exchange for the next request to the same miner. */
  private putChannel(peerId: string, protocol: string, ch: Channel): void {
    const key = poolKey(peerId, protocol);
    let pool = this.pools.get(key);
    if (pool === undefined) this.pools.set(key, pool = []);
    if (this.closed || pool.length >= this.maxConcurrentPerMiner) {
      void ch.stream.close().catch(() => ch.stream.abort(new Error("close failed")));
      return;
    }
    const idle: Channel = { stream: ch.stream, reader: ch.reader, fresh: false };
    pool.push(idle);
    ch.stream.addEventListener("close", () => {
      const i = pool.indexOf(idle);
      if (i >= 0) pool.splice(i, 1);
    }, { once: true });
  }

  /** Closes the idle streams this client keeps (the libp2p node itself is the caller's). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()].flat();
    this.pools.clear();
    await Promise.all(all.map((ch) => ch.stream.close().catch(() => ch.stream.abort(new Error("close failed")))));
  }

  private async roundTrip<H extends { type: string; parts: number[] }>(
    ch: Channel, miner: MinerAddress, header: OutgoingHeader, parts: readonly Uint8Array[],
    replySchema: z.ZodType<H>, signal: AbortSignal,
  ): Promise<{ reply: DecodedMessage<H>; bytesUp: number }> {
    const bytes = encodeMessage(header, parts);
    // Start reading before sending: a miner may refuse after the header, while we are still sending the payload.
    const replyP = readMessage(ch.reader, this.limits, replySchema);
    replyP.catch(() => {}); // if the signal wins the race below, the read's failure is expected
    let sendFailed: unknown;
    sendEncoded(ch.stream, bytes, { signal }).catch((err: unknown) => { sendFailed = err; });
    const reply = await raceAbort(replyP, signal);
    if (reply === undefined) throw sendFailed ?? new Error("stream closed without a reply");
    if (reply.header.type === "error") {
      ch.stream.abort(new Error("error reply")); // we may still be sending a refused payload: drop it
      const e = reply.header as unknown as { code: string; message: string; retryAfterMs?: number };
      if (!isWireErrorCode(e.code)) throw new ProtocolViolationError(`unknown error code ${e.code}: ${e.message}`);
      throw new RemoteError(e.code, e.message, miner.peerId, e.retryAfterMs);
    }
    return { reply, bytesUp: bytes.byteLength };
  }
}

interface Channel {
  stream: Stream;
  reader: FrameReader;
  /** Negotiated for this request (vs. reused from the pool). */
  fresh: boolean;
}

function poolKey(peerId: string, protocol: string): string {
  return `${peerId} ${protocol}`;
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
    /** The hotkey the miner stated in `opened`. */
    readonly hotkey: string,
  ) {
    this.stats = { open: openStats, steps: 0, bytesUp: 0, bytesDown: 0, roundTrips: 0 };
  }

  get peerId(): string { return this.miner.peerId; }
  get isClosed(): boolean { return this.closed; }

  /** Ciphertexts in, ciphertexts out. */
  async step(inputs: readonly Uint8Array[], options: StepOptions = {}): Promise<StepResult> {
    if (this.closed) throw new TransportError("SESSION_CLOSED", "session was closed locally");
    const limits = this.client.limits;
    const total = inputs.reduce((s, i) => s + i.byteLength, 0);
    if (inputs.length === 0 || inputs.length > limits.maxStepParts || total > limits.maxStepBytes) {
      throw new MessageTooLargeError(`step of ${inputs.length} parts / ${total} bytes is outside the step caps`);
    }
    const seq = this.nextSeq++;
    const round = options.round;
    const reply = await this.client.exchange(this.miner, INFER_PROTOCOL,
      { v: PROTOCOL_VERSION, type: "step", sessionId: this.sessionId, seq, ...(round !== undefined ? { round } : {}) }, inputs,
      InferReplyHeader, options.timeoutMs ?? this.client.stepTimeoutMs, options.signal);
    const h = reply.header;
    if (h.type !== "result" || h.sessionId !== this.sessionId || h.seq !== seq || h.round !== round) {
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
