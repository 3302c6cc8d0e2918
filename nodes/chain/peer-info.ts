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
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodePeerInfo(info: PeerInfo): { peerId: `0x${string}`; multiaddrs: `0x${string}` } {
  if (!/^[1-9A-HJ-NP-Za-km-z]{20,100}$/.test(info.peerId)) throw new PeerInfoError("BAD_PEER_INFO", `not a peer id: ${info.peerId}`);
  if (info.multiaddrs.some((m) => !m.startsWith("/") || /\s/.test(m))) {
    throw new PeerInfoError("BAD_PEER_INFO", "multiaddrs must be /-prefixed strings without spaces");
  }
  return { peerId: toHex(encoder.encode(info.peerId)), multiaddrs: toHex(encoder.encode(info.multiaddrs.join(" "))) };
}

export function decodePeerInfo(peerId: `0x${string}`, multiaddrs: `0x${string}`): PeerInfo {
  try {
    const id = decoder.decode(fromHex(peerId));
    const addrs = decoder.decode(fromHex(multiaddrs)).split(" ").filter((a) => a.length > 0);
    return { peerId: id, multiaddrs: addrs };
  } catch (err) {
    throw new PeerInfoError("BAD_PEER_INFO", "peer info on-chain is not UTF-8", { cause: err });
  }
}

function toHex(bytes: Uint8Array): `0x${string}` {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

function fromHex(hex: `0x${string}`): Uint8Array {
  return new Uint8Array(Buffer.from(hex.slice(2), "hex"));
}
