import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { PrivateKey } from "@libp2p/interface";
import { CerberusError } from "../core/errors.ts";

/** A node identity file that does not hold a valid libp2p private key. */
export class IdentityFileError extends CerberusError {
  constructor(message: string, options?: { cause?: unknown }) { super("BAD_IDENTITY", message, options); }
}

/**
 * The libp2p identity (Ed25519) of an agent, kept in a file so the peer id a miner registered on-chain survives
 * restarts. The file holds the libp2p protobuf encoding of the private key, mode 0600. Missing → created.
 */
export async function loadOrCreateIdentity(file: string): Promise<{ privateKey: PrivateKey; peerId: string; created: boolean }> {
  if (existsSync(file)) {
    let privateKey: PrivateKey;
    try {
      privateKey = privateKeyFromProtobuf(readFileSync(file));
    } catch (err) {
      throw new IdentityFileError(`${file} is not a libp2p private key`, { cause: err });
    }
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), created: false };
  }
  const privateKey = await generateKeyPair("Ed25519");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, privateKeyToProtobuf(privateKey), { mode: 0o600 });
  chmodSync(file, 0o600);
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), created: true };
}
