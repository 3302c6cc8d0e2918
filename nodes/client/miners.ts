import { parseMultiaddrs } from "../chain/peer-info.ts";
import { seatAddress, type MinerAddress } from "./transport.ts";

/** A miner seat as chain reads return it (SDK Neuron: multiaddrs as text; ChainClient: as a list). */
export interface MinerSeat {
  uid: number;
  incentiveRaw: number;
  /** The seat's hotkey: the miner must state it in `opened` (a peer id copied into another seat fails the check). */
  hotkey: string;
  peerId: string;
  multiaddrs: string | readonly string[];
}

/**
 * The miners a user may try, best first: by on-chain incentive (what validators' scores earned them, also kept as
 * `incentive` relative to the best for health-based selection, selection.ts), then by
 * uid, bound to the seat's hotkey, keeping only the multiaddrs this client can dial (`dialable`; e.g. a browser keeps only /ws and /wss) and
 * dropping miners left with none. The CLI and the dashboard's Generate page pick miners the same way.
 */
export function rankMiners(seats: readonly MinerSeat[], dialable: (multiaddr: string) => boolean = () => true): MinerAddress[] {
  const best = Math.max(0, ...seats.map((s) => s.incentiveRaw));
  return seats
    .map((s) => ({ s, addrs: (typeof s.multiaddrs === "string" ? parseMultiaddrs(s.multiaddrs) : [...s.multiaddrs]).filter(dialable) }))
    .filter(({ addrs }) => addrs.length > 0)
    .sort((x, y) => y.s.incentiveRaw - x.s.incentiveRaw || x.s.uid - y.s.uid)
    .map(({ s, addrs }) => ({ ...seatAddress({ peerId: s.peerId, multiaddrs: addrs, hotkey: s.hotkey }),
      incentive: best > 0 ? s.incentiveRaw / best : 0 }));
}

/** Multiaddrs a browser can dial: WebSockets (a page cannot open raw TCP). */
export const isWebSocketAddr = (multiaddr: string): boolean => /\/(ws|wss|tls\/ws)(\/|$)/.test(multiaddr);
