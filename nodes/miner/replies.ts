import { CerberusError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { BusyError, ProtocolError, isWireErrorCode, type WireErrorCode } from "../net/errors.ts";
import type { OutgoingHeader } from "../net/framing.ts";
import { PROTOCOL_VERSION } from "../net/messages.ts";

/** What the miner writes back: a reply's shape, and any thrown value turned into a typed `error` reply. */
export interface Reply { header: OutgoingHeader; parts: Uint8Array[] }

/**
 * Evaluator codes that mean "your input is bad", not "we failed" (nodes/fhe/errors.ts): the client learns
 * BAD_CIPHERTEXT and must not retry the same bytes elsewhere expecting a different answer.
 */
export const BAD_INPUT_CODES: ReadonlySet<string> = new Set([
  "FHE_CIPHERTEXT_INVALID", "FHE_SIZE_CAP", "FHE_INFLATE_CAP", "FHE_SHAPE", "FHE_PARAMS_MISMATCH",
]);

/** Any thrown value → an error that is safe to put on the wire (a stable code, no stack, bounded message). */
export function asWireError(err: unknown, fallback: WireErrorCode, what: string): ProtocolError {
  if (err instanceof ProtocolError) return err;
  if (err instanceof CerberusError && isWireErrorCode(err.code)) return new ProtocolError(err.code, err.message);
  const detail = err instanceof Error ? err.message : String(err);
  const code = err instanceof CerberusError ? ` [${err.code}]` : "";
  return new ProtocolError(fallback, `${what}${code}: ${detail}`.slice(0, 512));
}

/** The `error` reply for a failed request; only INTERNAL failures are the miner's own and logged as errors. */
export function errorReply(err: unknown, peerId: string, log: Logger): Reply {
  const wire = asWireError(err, "INTERNAL", "internal error");
  if (wire.code === "INTERNAL") log.error({ peerId, err }, "request failed");
  else log.debug({ peerId, code: wire.code, msg: wire.message }, "request refused");
  const header: OutgoingHeader = { v: PROTOCOL_VERSION, type: "error", code: wire.code, message: wire.message.slice(0, 512) };
  if (wire instanceof BusyError) header.retryAfterMs = wire.retryAfterMs;
  return { header, parts: [] };
}
