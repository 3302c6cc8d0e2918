import { z } from "zod";

/**
 * Message schemas of the Cerberus wire protocol (docs/PROTOCOL.md). Every header is a small JSON object with the
 * protocol version `v` and a `type`; binary parts (ciphertexts, keys) travel outside the JSON (see envelope.ts) and
 * the header only lists their byte lengths in `parts`.
 */
/**
 * 2: `opened` states the hotkey (EVM address) the miner serves, so a seat that registered someone else's peer id
 * is caught by the first reply (v1 had no way to tell). 3: `health-report` carries `queue` (depth, workers, recent
 * step latency, expected wait) and a BUSY `error` states its expected wait in `retryAfterMs`. 4: `step` and `result`
 * carry `round` (0 … 7) for plans of several rounds per word (the transformer's; absent = 0). Strict schemas make any
 * new field a version change.
 */
export const PROTOCOL_VERSION = 4 as const;
/** Rounds a plan may have per word (RoundPlanDescriptor.rounds). */
export const MAX_ROUNDS = 8;
const Round = z.number().int().min(0).max(MAX_ROUNDS - 1);
export const INFER_PROTOCOL = "/cerberus/infer/1.0.0";
export const HEALTH_PROTOCOL = "/cerberus/health/1.0.0";

/** Byte caps. The defaults are what docs/PROTOCOL.md specifies; a miner or client may lower (or raise) them. */
export interface WireLimits {
  /** JSON header frame of any message. */
  maxHeaderBytes: number;
  /** Payload of `open`: Galois keys + relinearization keys. */
  maxOpenBytes: number;
  /** Payload of `step`: input ciphertexts. */
  maxStepBytes: number;
  /** Payload of `result`: output ciphertexts. */
  maxResultBytes: number;
  maxStepParts: number;
  maxResultParts: number;
}
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const DEFAULT_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxHeaderBytes: 16 * KiB,
  maxOpenBytes: 24 * MiB,
  maxStepBytes: 2 * MiB,
  maxResultBytes: 8 * MiB,
  maxStepParts: 8,
  maxResultParts: 16,
});

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
export const PlanId = hex(32); // sha256, lowercase hex
export const SessionId = hex(16); // 128 random bits chosen by the miner
/** An EVM address in lowercase hex (the canonical form on the wire; compare lowercase). */
export const Hotkey = z.string().regex(/^0x[0-9a-f]{40}$/);
const Version = z.literal(PROTOCOL_VERSION);
const PartLen = z.number().int().min(1).max(2 ** 32 - 1);
const NoParts = z.array(PartLen).max(0);
const Seq = z.number().int().min(0).max(2 ** 32 - 1);
const Count = z.number().int().min(0).max(2 ** 31);

// ---- /cerberus/infer/1.0.0: requests (client → miner)
export const OpenHeader = z.strictObject({
  v: Version, type: z.literal("open"), planId: PlanId,
  parts: z.array(PartLen).length(2), // [galoisKeys, relinKeys]
});
export const StepHeader = z.strictObject({
  v: Version, type: z.literal("step"), sessionId: SessionId, seq: Seq,
  /** Which round of the word this is (round plans); absent = 0, the one round of a chain plan. */
  round: Round.optional(),
  parts: z.array(PartLen).min(1).max(64), // count capped by WireLimits.maxStepParts at runtime
});
export const CloseHeader = z.strictObject({ v: Version, type: z.literal("close"), sessionId: SessionId, parts: NoParts });
export const InferRequestHeader = z.discriminatedUnion("type", [OpenHeader, StepHeader, CloseHeader]);

// ---- /cerberus/infer/1.0.0: replies (miner → client)
export const OpenedHeader = z.strictObject({
  v: Version, type: z.literal("opened"), sessionId: SessionId, planId: PlanId,
  idleTtlMs: z.number().int().min(1),
  /** The hotkey whose seat this miner serves; said inside the noise channel, so it is bound to the peer id. */
  hotkey: Hotkey,
  parts: NoParts,
});
export const ResultHeader = z.strictObject({
  v: Version, type: z.literal("result"), sessionId: SessionId, seq: Seq,
  round: Round.optional(),
  parts: z.array(PartLen).min(1).max(64),
});
export const ClosedHeader = z.strictObject({ v: Version, type: z.literal("closed"), sessionId: SessionId, parts: NoParts });
export const ErrorHeader = z.strictObject({
  v: Version, type: z.literal("error"),
  code: z.string().regex(/^[A-Z][A-Z0-9_]{1,39}$/),
  message: z.string().max(512),
  retryAfterMs: z.number().int().min(0).optional(),
  parts: NoParts,
});
export const InferReplyHeader = z.discriminatedUnion("type", [OpenedHeader, ResultHeader, ClosedHeader, ErrorHeader]);

// ---- /cerberus/health/1.0.0
/** Capped so that a lying miner cannot make a client do arithmetic on absurd numbers (an hour is "never"). */
const Ms = z.number().int().min(0).max(3_600_000);
/**
 * The miner's queue as it states it (docs/PROTOCOL.md, "/cerberus/health/1.0.0"). Clients rank miners by it; a
 * validator charges the stated wait and step time as latency (a claim cannot score better than the truth).
 */
export const HealthQueue = z.strictObject({
  /** Requests (open/step) admitted and not yet answered: being evaluated or waiting for a worker. */
  depth: Count,
  /** Evaluations the miner runs at once (its FHE worker threads). */
  workers: z.number().int().min(1).max(1024),
  /** Median evaluation time of the last `recentSteps` steps (0 if none yet). */
  recentStepMs: Ms,
  recentSteps: z.number().int().min(0).max(1024),
  /** What a step arriving now would wait before its evaluation starts. */
  expectedWaitMs: Ms,
});
export const HealthRequestHeader = z.strictObject({ v: Version, type: z.literal("health"), parts: NoParts });
export const HealthReportHeader = z.strictObject({
  v: Version, type: z.literal("health-report"),
  planId: PlanId,
  protocols: z.array(z.string().max(64)).max(16),
  software: z.string().max(64),
  uptimeMs: Count,
  load: z.strictObject({ sessions: Count, maxSessions: Count, inflight: Count, maxInflight: Count }),
  queue: HealthQueue,
  parts: NoParts,
});
export const HealthReplyHeader = z.discriminatedUnion("type", [HealthReportHeader, ErrorHeader]);

export type OpenHeader = z.infer<typeof OpenHeader>;
export type StepHeader = z.infer<typeof StepHeader>;
export type CloseHeader = z.infer<typeof CloseHeader>;
export type InferRequestHeader = z.infer<typeof InferRequestHeader>;
export type OpenedHeader = z.infer<typeof OpenedHeader>;
export type ResultHeader = z.infer<typeof ResultHeader>;
export type ClosedHeader = z.infer<typeof ClosedHeader>;
export type ErrorHeader = z.infer<typeof ErrorHeader>;
export type InferReplyHeader = z.infer<typeof InferReplyHeader>;
export type HealthRequestHeader = z.infer<typeof HealthRequestHeader>;
export type HealthReportHeader = z.infer<typeof HealthReportHeader>;
export type HealthReplyHeader = z.infer<typeof HealthReplyHeader>;
export type HealthQueue = z.infer<typeof HealthQueue>;

/** Payload cap and part-count cap of each message type; types without parts have cap 0. */
export function payloadCap(type: string, limits: WireLimits): { maxBytes: number; maxParts: number } {
  switch (type) {
    case "open": return { maxBytes: limits.maxOpenBytes, maxParts: 2 };
    case "step": return { maxBytes: limits.maxStepBytes, maxParts: limits.maxStepParts };
    case "result": return { maxBytes: limits.maxResultBytes, maxParts: limits.maxResultParts };
    default: return { maxBytes: 0, maxParts: 0 };
  }
}
