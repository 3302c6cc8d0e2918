import "../core/polyfills.ts"; // must run before libp2p touches Promise.withResolvers
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify, type Identify } from "@libp2p/identify";
import type { PrivateKey } from "@libp2p/interface";

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
}

/** A miner listens on TCP (agents) and on WebSockets (browsers cannot open raw TCP); it registers both on-chain. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"];

/**
 * One libp2p 3 node as every Cerberus agent uses it: TCP + WebSockets + noise + yamux + identify, nothing else (no
 * DHT, no relay, no mDNS — peers come from chain state). Listens on 127.0.0.1 unless told otherwise.
 */
export async function createCerberusNode(options: NodeOptions = {}): Promise<CerberusNode> {
  return createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: { listen: options.listen ?? [...DEFAULT_LISTEN] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionManager: { maxConnections: options.maxConnections ?? 256 },
  });
}
