import "../core/polyfills.ts"; // must run before libp2p touches Promise.withResolvers
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify, type Identify } from "@libp2p/identify";
import type { PrivateKey } from "@libp2p/interface";
import { AddressGate } from "./address-gate.ts";

export type CerberusNode = Libp2p<{ identify: Identify }>;

export interface NodeOptions {
  /**
   * Listen addresses; default loopback only, TCP and WebSockets on random ports (DEFAULT_LISTEN). Pass [] for a
   * dial-only node (clients, validators).
   */
  listen?: string[];
  /** A fixed identity (a miner registers its peer id on-chain, so it must persist one). Default: a fresh Ed25519 key. */
  privateKey?: PrivateKey;
  /** Cap on open connections (default 256). */
  maxConnections?: number;
  /** Inbound connections (established + upgrading) per remote IP (default 16). */
  maxConnectionsPerAddress?: number;
  /** Inbound connections per remote IP still in their noise/yamux upgrade (default 4). */
  maxPendingPerAddress?: number;
  /** Inbound connections being upgraded, in total (default 64; libp2p's own default is 10). */
  maxIncomingPendingConnections?: number;
  /** An inbound noise + yamux upgrade must finish within this (default 5 s; libp2p's default is 10 s). */
  inboundUpgradeTimeoutMs?: number;
  /** New inbound connections per second from one host before they are refused (default 5, libp2p's). */
  inboundConnectionsPerSecondPerHost?: number;
  /** Source address of outbound TCP dials (multi-homed hosts; tests use loopback aliases 127.0.0.x). */
  dialFrom?: string;
}

/** A miner listens on TCP (agents) and on WebSockets (browsers cannot open raw TCP); it registers both on-chain. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"];

/**
 * One libp2p 3 node as every Cerberus agent uses it: TCP + WebSockets + noise + yamux + identify, nothing else (no
 * DHT, no relay, no mDNS — peers come from chain state). Listens on 127.0.0.1 unless told otherwise. Inbound
 * connections are capped in total, per remote address and while upgrading (docs/PROTOCOL.md, "Limits and errors"),
 * so idle or half-open connections from a few addresses cannot lock everyone else out.
 */
export async function createCerberusNode(options: NodeOptions = {}): Promise<CerberusNode> {
  const upgradeTimeoutMs = options.inboundUpgradeTimeoutMs ?? 5_000;
  const gate = new AddressGate({
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 16,
    maxPendingPerAddress: options.maxPendingPerAddress ?? 4,
    upgradeTimeoutMs,
  });
  // net.connect takes localAddress; @libp2p/tcp passes dialOpts through but its type lists only a few socket options.
  const dialOpts = options.dialFrom !== undefined ? ({ localAddress: options.dialFrom } as object) : undefined;
  const node = await createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: { listen: options.listen ?? [...DEFAULT_LISTEN] },
    transports: [tcp(dialOpts !== undefined ? { dialOpts } : {}), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: gate.gater(),
    connectionManager: {
      maxConnections: options.maxConnections ?? 256,
      maxIncomingPendingConnections: options.maxIncomingPendingConnections ?? 64,
      inboundUpgradeTimeout: upgradeTimeoutMs,
      inboundConnectionThreshold: options.inboundConnectionsPerSecondPerHost ?? 5,
    },
  });
  gate.attach(() => node.getConnections());
  return node;
}
