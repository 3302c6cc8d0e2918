import "../core/polyfills.ts"; // must run before libp2p touches Promise.withResolvers
import { createLibp2p, type Libp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify, type Identify } from "@libp2p/identify";
import type { PrivateKey } from "@libp2p/interface";

export type CerberusNode = Libp2p<{ identify: Identify }>;

export interface NodeOptions {
  /** Listen addresses; default loopback only on a random port. Pass [] for a dial-only node (clients, validators). */
  listen?: string[];
  /** A fixed identity (a miner registers its peer id on-chain, so it must persist one). Default: a fresh Ed25519 key. */
  privateKey?: PrivateKey;
  /** Cap on open connections (default 256). */
  maxConnections?: number;
}

/**
 * One libp2p 3 node as every Cerberus agent uses it: TCP + noise + yamux + identify, nothing else (no DHT, no
 * relay, no mDNS — peers come from chain state). Listens on 127.0.0.1 unless told otherwise.
 */
export async function createCerberusNode(options: NodeOptions = {}): Promise<CerberusNode> {
  return createLibp2p({
    ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
    addresses: { listen: options.listen ?? ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionManager: { maxConnections: options.maxConnections ?? 256 },
  });
}
