import { sha256 } from "../core/sha256.ts";
import { CiphertextInvalidError, InflateCapError, KeysInvalidError, SizeCapError } from "./errors.ts";
import { ZSTD_BLOCK_MAX, ZstdFormatError, zstdInflateBound } from "./zstd-bound.ts";

/**
 * SEAL serialization header (16 bytes, little-endian): magic 0xA15E (u16), header size 16 (u8), version major 4,
 * minor (u8 each), compression mode (u8: 0 none, 1 zlib, 2 zstd), reserved (u16 = 0), total size (u64) — the size
 * *as serialized*, i.e. compressed: it says nothing about what the object inflates to.
 * We check it ourselves before SEAL reads anything: a truncated buffer reaching SEAL's loader aborts the WASM
 * instance (measured: "Aborted()"), while one with a consistent header fails with a catchable exception.
 *
 * `cap` is the plan's bound for the kind (nodes/fhe/plan.ts `caps`: the uncompressed, unseeded size plus slack).
 * It bounds both the bytes received and — for zstd — what SEAL would inflate: SEAL inflates the whole stream into
 * WASM memory before validating anything (and WASM memory never shrinks), so the inflated size is bounded from the
 * zstd block headers first (zstd-bound.ts) and anything above `cap` plus one zstd block of rounding (a compressed
 * block counts as a full 128 KiB) is refused with InflateCapError before SEAL sees it.
 */
export function inflateLimit(cap: number): number { return cap + ZSTD_BLOCK_MAX; }

export const COMPR_ZSTD = 2;
export const COMPR_ZLIB = 1;

export type SerializedKind = "ciphertext" | "galois keys" | "relin keys";

export function checkSealHeader(bytes: Uint8Array, kind: SerializedKind, cap: number, compr: number): void {
  const Err = kind === "ciphertext" ? CiphertextInvalidError : KeysInvalidError;
  if (!(bytes instanceof Uint8Array)) throw new Err(`${kind}: expected bytes`);
  if (bytes.length > cap) throw new SizeCapError(kind, bytes.length, cap);
  if (bytes.length < 16) throw new Err(`${kind}: ${bytes.length} bytes is shorter than a SEAL header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0, true) !== 0xa15e) throw new Err(`${kind}: not a SEAL object (bad magic)`);
  if (bytes[2] !== 16) throw new Err(`${kind}: bad SEAL header size ${bytes[2]}`);
  if (bytes[3] !== 4) throw new Err(`${kind}: unsupported SEAL version ${bytes[3]}.${bytes[4]}`);
  if (bytes[5] !== compr) throw new Err(`${kind}: compression mode ${bytes[5]}, expected ${compr}`);
  if (view.getUint16(6, true) !== 0) throw new Err(`${kind}: reserved header field is not zero`);
  const declared = view.getBigUint64(8, true);
  if (declared !== BigInt(bytes.length)) {
    throw new Err(`${kind}: header declares ${declared} bytes but ${bytes.length} arrived (truncated or padded)`);
  }
  if (compr === COMPR_ZSTD) {
    const limit = inflateLimit(cap);
    let bound;
    try {
      bound = zstdInflateBound(bytes.subarray(16), limit - 16);
    } catch (err) {
      if (err instanceof ZstdFormatError) throw new Err(`${kind}: ${err.message}`, { cause: err });
      throw err;
    }
    if (bound.exceeded) throw new InflateCapError(kind, 16 + bound.maxBytes, limit);
  }
}

/** Runs a SEAL load and turns whatever it throws into the given typed error. */
export function guardedLoad<T>(kind: SerializedKind, load: () => T): T {
  try {
    return load();
  } catch (err) {
    const Err = kind === "ciphertext" ? CiphertextInvalidError : KeysInvalidError;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Err(`${kind} rejected by SEAL: ${msg}`, { cause: err });
  }
}

/**
 * Wire envelope around every SEAL blob we send: "CKS1" | kind (u8) | 3 zero bytes | first 16 bytes of
 * sha256(body) | body. SEAL's own loader catches malformed structure and out-of-range coefficients, but a flipped bit
 * inside a valid coefficient would silently decrypt to garbage; the digest turns any corruption in transit into a
 * typed error. (Integrity only — the session transport authenticates the peer.)
 */
const MAGIC = [0x43, 0x4b, 0x53, 0x31];
const KIND_CODE: Record<SerializedKind, number> = { "ciphertext": 1, "galois keys": 2, "relin keys": 3 };
export const ENVELOPE_BYTES = 24;

export function wrapSeal(kind: SerializedKind, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_BYTES + body.length);
  out.set(MAGIC, 0);
  out[4] = KIND_CODE[kind];
  out.set(sha256(body).subarray(0, 16), 8);
  out.set(body, ENVELOPE_BYTES);
  return out;
}

/** Checks envelope, digest and SEAL header (cap applies to the whole message); returns the SEAL body. */
export function unwrapSeal(kind: SerializedKind, bytes: Uint8Array, cap: number, compr: number): Uint8Array {
  const Err = kind === "ciphertext" ? CiphertextInvalidError : KeysInvalidError;
  if (!(bytes instanceof Uint8Array)) throw new Err(`${kind}: expected bytes`);
  if (bytes.length > cap) throw new SizeCapError(kind, bytes.length, cap);
  if (bytes.length < ENVELOPE_BYTES + 16) throw new Err(`${kind}: ${bytes.length} bytes is too short`);
  if (MAGIC.some((m, i) => bytes[i] !== m)) throw new Err(`${kind}: not a Cerberus FHE message (bad magic)`);
  if (bytes[4] !== KIND_CODE[kind]) throw new Err(`${kind}: message holds kind ${bytes[4]}, not ${kind}`);
  const body = bytes.subarray(ENVELOPE_BYTES);
  const digest = sha256(body).subarray(0, 16);
  for (let i = 0; i < 16; i++) {
    if (digest[i] !== bytes[8 + i]) throw new Err(`${kind}: digest mismatch (corrupted or truncated in transit)`);
  }
  checkSealHeader(body, kind, cap, compr);
  return body;
}
