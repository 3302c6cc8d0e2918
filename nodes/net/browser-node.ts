import { createLibp2p, type Libp2p } from "libp2p";
import { webSockets } from "@libp2p/websockets";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";

export interface BrowserNodeOptions {
  /**
   * Allow dialing private addresses and plain `ws://` (a local chain's miners on 127.0.0.1). Off by default: on a
   * public network the browser's default gater refuses both, and a page from a public origin should not be able to
   * probe the user's LAN through a miner's registered multiaddrs.
   */
  allowPrivate?: boolean;
  maxConnections?: number;
}

/**
 * A dial-only libp2p node for a web page: WebSockets + noise + yamux, nothing else. No listener (a page cannot
 * accept connections) and no identify (the miner's peer id comes from the chain and noise proves it). The same
 * InferClient as the CLI runs over it.
 */
export async function createBrowserNode(options: BrowserNodeOptions = {}): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(options.allowPrivate === true ? { connectionGater: { denyDialMultiaddr: () => false } } : {}),
    connectionManager: { maxConnections: options.maxConnections ?? 16 },
  });
}
