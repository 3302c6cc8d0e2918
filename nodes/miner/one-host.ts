import type { NodeOptions } from "../net/node.ts";
import { MINER_TOTALS } from "./admission.ts";
import type { MinerServiceOptions } from "./service.ts";

/**
 * Per-address limits lifted, for BENCHMARKS in which every simulated user dials from one host (127.0.0.1): the caps
 * that keep one host from taking a real miner's sessions, slots and connections (docs/PROTOCOL.md, "Limits and
 * errors") would throttle the benchmark itself. Only the per-address caps are raised — each to the miner's total —
 * and the totals, the queue, BUSY and the timeouts stay at their defaults. Used by `npm run bench:load`
 * (`--one-host`, on by default there) and `bench:probes`; never by a miner's defaults or the CLI.
 */
export const ONE_HOST_NODE_LIMITS: Readonly<Pick<NodeOptions, "maxConnectionsPerAddress" | "maxPendingPerAddress" |
  "inboundConnectionsPerSecondPerHost">> = Object.freeze({
  maxConnectionsPerAddress: 256, // = maxConnections
  maxPendingPerAddress: 64, // = maxIncomingPendingConnections
  inboundConnectionsPerSecondPerHost: 1_000,
});

/** The service's per-address caps set to its totals (pass the totals you configure, or the defaults). */
export function oneHostServiceLimits(totals: { maxSessions?: number; maxInflight?: number } = {}):
  Pick<MinerServiceOptions, "maxSessionsPerAddress" | "maxInflightPerAddress" | "maxPendingPerAddress"> {
  return {
    maxSessionsPerAddress: totals.maxSessions ?? MINER_TOTALS.maxSessions,
    maxInflightPerAddress: totals.maxInflight ?? MINER_TOTALS.maxInflight,
    maxPendingPerAddress: 64,
  };
}
