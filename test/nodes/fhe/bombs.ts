import { wrapSeal, type SerializedKind } from "../../../nodes/fhe/serialize.ts";
import { zstdStoreFrame } from "../../../nodes/fhe/zstd-bound.ts";

/** A SEAL 4.1 serialization header (16 bytes): magic 0xA15E, header size 16, version 4.1, compression, total size. */
export function sealHeader(compr: number, totalBytes: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint16(0, 0xa15e, true);
  h[2] = 16;
  h[3] = 4;
  h[4] = 1;
  h[5] = compr;
  v.setBigUint64(8, BigInt(totalBytes), true);
  return h;
}

/** A SEAL object whose body is `frame` (a zstd frame), header size field consistent. */
export function sealZstdObject(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + frame.length);
  out.set(sealHeader(2, out.length), 0);
  out.set(frame, 16);
  return out;
}

/**
 * The decompression bomb: a valid SEAL header and a zstd frame of RLE blocks of zeros that inflates to
 * `inflated` bytes (1 GiB → 8,192 blocks, 32,814 bytes with our envelope), wrapped like any honest blob.
 */
export function sealBomb(kind: SerializedKind, inflated = 2 ** 30): Uint8Array {
  return wrapSeal(kind, sealZstdObject(zstdStoreFrame([{ rle: 0, length: inflated }])));
}
