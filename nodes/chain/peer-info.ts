import { CerberusError } from "../core/errors.ts";

/**
 * How a neuron's libp2p identity is stored on-chain (NeuronRegistry.register's `peerId` and `multiaddrs` bytes):
 * `peerId` is the UTF-8 of the base58btc peer id string; `multiaddrs` is the UTF-8 of the multiaddr strings joined
 * by single spaces. Text rather than binary multiaddrs so explorers and dApps show them as they are, at a cost of a
 * few dozen bytes per neuron (the registry caps multiaddrs at 1,024 bytes).
 */
export interface PeerInfo {
  peerId: string;
  multiaddrs: string[];
}

export class PeerInfoError extends CerberusError {}

const encoder = new TextEncoder();

export function encodePeerInfo(info: PeerInfo): { peerId: `0x${string}`; multiaddrs: `0x${string}` } {
  if (!/^[1-9A-HJ-NP-Za-km-z]{20,100}$/.test(info.peerId)) throw new PeerInfoError("BAD_PEER_INFO", `not a peer id: ${info.peerId}`);
  if (info.multiaddrs.some((m) => !m.startsWith("/") || /\s/.test(m))) {
    throw new PeerInfoError("BAD_PEER_INFO", "multiaddrs must be /-prefixed strings without spaces");
  }
  return { peerId: toHex(encoder.encode(info.peerId)), multiaddrs: toHex(encoder.encode(info.multiaddrs.join(" "))) };
}

/**
 * The multiaddr list of a neuron from the registry's `multiaddrs` as text (the SDK shows printable bytes as text).
 * Anything that is not our encoding (a neuron that registered junk) gives an empty list: not dialable.
 */
export function parseMultiaddrs(text: string): string[] {
  if (!text.startsWith("/")) return [];
  return text.split(" ").filter((a) => a.length > 0);
}

function toHex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}
