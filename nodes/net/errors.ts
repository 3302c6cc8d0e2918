import { CerberusError } from "../core/errors.ts";

/**
 * Stable error codes of the Cerberus wire protocol (docs/PROTOCOL.md, "Limits and errors").
 * WIRE codes are sent by a miner in an `error` reply; LOCAL codes are raised by the client side only (a miner never
 * sends them, so a client can tell "the miner said no" from "we never got an answer").
 */
export const WIRE_ERROR_CODES = [
  "MALFORMED", // the frame or header does not parse / validate
  "TOO_LARGE", // a frame, part or message exceeds its cap
  "UNSUPPORTED_VERSION", // header `v` is not a version this node speaks
  "UNKNOWN_SESSION", // step/close for a session that does not exist, expired, or belongs to another peer
  "SESSION_LIMIT", // too many open sessions (total or for this peer)
  "BUSY", // too many requests in flight (total or for this peer); retry later or elsewhere
  "PLAN_MISMATCH", // open with a plan id this miner does not serve
  "BAD_KEYS", // the evaluator rejected the session keys
  "BAD_CIPHERTEXT", // the evaluator rejected an input ciphertext
  "EVAL_FAILED", // evaluation failed for another reason
  "SHUTTING_DOWN", // the miner is stopping
  "INTERNAL", // a bug on the miner; nothing the client did
] as const;
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

export const LOCAL_ERROR_CODES = [
  "TIMEOUT", // no reply within the request timeout
  "UNREACHABLE", // dial failed, or the stream/connection was reset before a reply
  "PROTOCOL_VIOLATION", // the remote sent a reply that is malformed or does not match the request
  "ALL_MINERS_FAILED", // failover ran out of miners
  "ABORTED", // the caller's AbortSignal fired
  "SESSION_CLOSED", // step on a session the caller already closed
  "HOTKEY_MISMATCH", // the miner behind a seat's peer id serves another hotkey (a copied peer id)
] as const;
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];
export type NetErrorCode = WireErrorCode | LocalErrorCode;

const WIRE_SET: ReadonlySet<string> = new Set(WIRE_ERROR_CODES);
export function isWireErrorCode(code: string): code is WireErrorCode {
  return WIRE_SET.has(code);
}

/** Errors a miner sends in reply to a bad or unservable request. */
export class ProtocolError extends CerberusError {
  declare readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
export class MalformedMessageError extends ProtocolError {
  constructor(message: string, options?: { cause?: unknown }) { super("MALFORMED", message, options); }
}
export class MessageTooLargeError extends ProtocolError {
  constructor(message: string) { super("TOO_LARGE", message); }
}
export class UnsupportedVersionError extends ProtocolError {
  constructor(message: string) { super("UNSUPPORTED_VERSION", message); }
}
export class UnknownSessionError extends ProtocolError {
  constructor(message: string) { super("UNKNOWN_SESSION", message); }
}
export class SessionLimitError extends ProtocolError {
  constructor(message: string) { super("SESSION_LIMIT", message); }
}
/** BUSY carries the miner's stated wait: when (in ms) it expects to have room for this request. */
export class BusyError extends ProtocolError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super("BUSY", message);
    this.retryAfterMs = Math.max(0, Math.ceil(retryAfterMs));
  }
}
export class PlanMismatchError extends ProtocolError {
  constructor(message: string) { super("PLAN_MISMATCH", message); }
}
export class EvalFailedError extends ProtocolError {
  constructor(message: string, options?: { cause?: unknown }) { super("EVAL_FAILED", message, options); }
}

/** An `error` reply received from a remote miner, re-raised on the client with the miner's code. */
export class RemoteError extends CerberusError {
  declare readonly code: WireErrorCode;
  readonly peerId: string;
  /** The miner's hint (BUSY): when retrying the same miner makes sense. */
  readonly retryAfterMs: number | undefined;
  constructor(code: WireErrorCode, message: string, peerId: string, retryAfterMs?: number) {
    super(code, `miner ${peerId.slice(-8)}: ${message}`);
    this.peerId = peerId;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Client-side failures where no valid reply arrived. */
export class TransportError extends CerberusError {
  declare readonly code: LocalErrorCode;
  constructor(code: LocalErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
export class RequestTimeoutError extends TransportError {
  constructor(message: string) { super("TIMEOUT", message); }
}
export class UnreachableError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) { super("UNREACHABLE", message, options); }
}
export class ProtocolViolationError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) { super("PROTOCOL_VIOLATION", message, options); }
}
/**
 * The peer we dialled for a seat answered `opened` stating another hotkey: the seat's hotkey registered a peer id
 * that is not its own (it would be paid for another miner's work). Users fail over; validators score it zero.
 */
export class HotkeyMismatchError extends TransportError {
  readonly seatHotkey: string;
  readonly statedHotkey: string;
  constructor(peerId: string, seatHotkey: string, statedHotkey: string) {
    super("HOTKEY_MISMATCH", `miner ${peerId.slice(-8)} serves hotkey ${statedHotkey}, not the seat's ${seatHotkey}`);
    this.seatHotkey = seatHotkey;
    this.statedHotkey = statedHotkey;
  }
}
export class AllMinersFailedError extends TransportError {
  readonly attempts: readonly { peerId: string; code: string; message: string }[];
  constructor(attempts: readonly { peerId: string; code: string; message: string }[]) {
    super("ALL_MINERS_FAILED", `all ${attempts.length} attempt(s) failed: ` +
      attempts.map((a) => `${a.peerId.slice(-8)}:${a.code}`).join(", "));
    this.attempts = attempts;
  }
}
