import type { Connection, ConnectionGater, MultiaddrConnection } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";

/**
 * The remote host (IP) of a multiaddr, the unit of per-address limits: identities are free (a fresh Ed25519 key per
 * request), addresses are not. Non-IP addresses are keyed by their full string.
 */
export function remoteHost(ma: Multiaddr): string {
  const ip = ma.getComponents().find((c) => c.name === "ip4" || c.name === "ip6");
  return ip?.value ?? ma.toString();
}

export interface AddressGateOptions {
  /** Connections (established + being upgraded) from one remote host (default 16). */
  maxConnectionsPerAddress: number;
  /** Connections from one host still in their noise/yamux upgrade (default 4): a stalled handshake holds one. */
  maxPendingPerAddress: number;
  /** How long an upgrade may take (libp2p's inboundUpgradeTimeout); a pending entry expires after it. */
  upgradeTimeoutMs: number;
}

/**
 * Per-address connection caps as a libp2p connection gater. libp2p's connection manager caps connections and
 * pending upgrades only in total (and the connection *rate* per host), so a few addresses could take every slot with
 * idle or half-open connections; this gate makes the total need many addresses.
 */
export class AddressGate {
  private readonly pending = new Map<string, Set<MultiaddrConnection>>();
  private connections: () => Connection[] = () => [];

  constructor(private readonly options: AddressGateOptions) {}

  /** Late-bound: the node exists only after its gater was configured. */
  attach(connections: () => Connection[]): void { this.connections = connections; }

  gater(): ConnectionGater {
    return {
      denyInboundConnection: (maConn) => this.denyInbound(maConn),
      denyInboundUpgradedConnection: (_peer, maConn) => { this.settle(maConn); return false; },
    };
  }

  private denyInbound(maConn: MultiaddrConnection): boolean {
    const host = remoteHost(maConn.remoteAddr);
    const pending = this.pending.get(host) ?? new Set<MultiaddrConnection>();
    if (pending.size >= this.options.maxPendingPerAddress) return true;
    const established = this.connections().filter((c) => c.direction === "inbound" && remoteHost(c.remoteAddr) === host).length;
    if (established + pending.size >= this.options.maxConnectionsPerAddress) return true;
    pending.add(maConn);
    this.pending.set(host, pending);
    // A failed upgrade never reaches denyInboundUpgradedConnection: its entry expires with the upgrade timeout.
    setTimeout(() => this.settle(maConn), this.options.upgradeTimeoutMs + 500).unref();
    return false;
  }

  private settle(maConn: MultiaddrConnection): void {
    const host = remoteHost(maConn.remoteAddr);
    const pending = this.pending.get(host);
    if (pending === undefined) return;
    pending.delete(maConn);
    if (pending.size === 0) this.pending.delete(host);
  }
}
