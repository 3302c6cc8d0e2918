/**
 * How many bytes a zstd stream can inflate to, read from its frame and block headers alone (RFC 8878 §3.1) — no
 * decompression. SEAL inflates a whole zstd-compressed object into memory before it validates a single field, and
 * the 64-bit size in SEAL's own header is the *compressed* size (we check it equals the bytes received), so the
 * only way to know what a load will cost before it runs is to walk the blocks:
 *
 *   Raw block        regenerates exactly Block_Size bytes (and carries them);
 *   RLE block        regenerates exactly Block_Size bytes from ONE byte — the decompression bomb's brick;
 *   Compressed block regenerates at most Block_Maximum_Size = min(Window_Size, 128 KiB), whatever its size.
 *
 * The sum is a sound upper bound of what any conforming decoder (SEAL's bundled zstd included) produces: a block
 * that regenerates more than its maximum is corrupt and the decoder stops there. The walk costs O(blocks) and reads
 * 3 bytes per block, so a 32 KiB bomb declaring 1 GiB (8,192 RLE blocks) is measured in microseconds.
 *
 * We accept exactly what SEAL writes and nothing more exotic: one frame filling the rest of the buffer, no
 * dictionary, no skippable frames.
 */
export const ZSTD_MAGIC = 0xfd2fb528;
export const ZSTD_BLOCK_MAX = 128 * 1024;

export interface ZstdBound {
  /** Upper bound of the inflated size in bytes. */
  readonly maxBytes: number;
  readonly blocks: number;
  /** Frame_Content_Size if the frame declares one. */
  readonly declaredContentSize: number | undefined;
  /** The walk stopped as soon as maxBytes passed `stopAbove` (the rest of the stream was not read). */
  readonly exceeded: boolean;
}

/** A stream that is not a single well-formed zstd frame (the message says why). */
export class ZstdFormatError extends Error {}

/**
 * Walks one zstd frame starting at `bytes[0]` that must end exactly at `bytes.length`. Stops early (`exceeded`)
 * as soon as the bound passes `stopAbove`, so a bomb costs no more than the blocks needed to prove it is one.
 * Malformed framing → ZstdFormatError.
 */
export function zstdInflateBound(bytes: Uint8Array, stopAbove = Number.POSITIVE_INFINITY): ZstdBound {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number, what: string) => {
    if (at + n > bytes.length) throw new ZstdFormatError(`zstd stream ends inside the ${what}`);
  };
  need(0, 5, "frame header");
  if (view.getUint32(0, true) !== ZSTD_MAGIC) throw new ZstdFormatError("not a zstd frame (bad magic)");
  const fhd = bytes[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  if ((fhd & 0x08) !== 0) throw new ZstdFormatError("zstd reserved bit is set");
  const checksum = (fhd & 0x04) !== 0;
  if ((fhd & 0x03) !== 0) throw new ZstdFormatError("zstd frame needs a dictionary");
  let at = 5;
  let windowSize = 0;
  if (!singleSegment) {
    need(at, 1, "window descriptor");
    const wd = bytes[at]!;
    at += 1;
    const windowLog = 10 + (wd >> 3);
    if (windowLog > 31) throw new ZstdFormatError(`zstd window log ${windowLog} is out of range`);
    const base = 2 ** windowLog;
    windowSize = base + (base / 8) * (wd & 0x07);
  }
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  let declared: number | undefined;
  if (fcsBytes > 0) {
    need(at, fcsBytes, "frame content size");
    if (fcsBytes === 1) declared = bytes[at]!;
    else if (fcsBytes === 2) declared = view.getUint16(at, true) + 256;
    else if (fcsBytes === 4) declared = view.getUint32(at, true);
    else declared = Number(view.getBigUint64(at, true)); // may lose precision above 2^53: only ever compared as "huge"
    at += fcsBytes;
  }
  if (singleSegment) windowSize = declared!;
  const blockMax = Math.min(windowSize, ZSTD_BLOCK_MAX);

  let total = 0;
  let blocks = 0;
  for (;;) {
    need(at, 3, "block header");
    const h = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
    at += 3;
    const last = (h & 1) === 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    blocks += 1;
    if (type === 3) throw new ZstdFormatError("zstd block of the reserved type");
    if (size > blockMax) throw new ZstdFormatError(`zstd block of ${size} bytes exceeds the block maximum ${blockMax}`);
    if (type === 0) { need(at, size, "raw block"); at += size; total += size; }
    else if (type === 1) { need(at, 1, "RLE block"); at += 1; total += size; }
    else { need(at, size, "compressed block"); at += size; total += blockMax; }
    if (total > stopAbove) return { maxBytes: total, blocks, declaredContentSize: declared, exceeded: true };
    if (last) break;
  }
  if (checksum) { need(at, 4, "content checksum"); at += 4; }
  if (at !== bytes.length) throw new ZstdFormatError(`${bytes.length - at} bytes follow the zstd frame`);
  return { maxBytes: total, blocks, declaredContentSize: declared, exceeded: false };
}

/**
 * Encodes `data` as one valid zstd frame of Raw and RLE blocks (no entropy coding): runs of one byte value become RLE
 * blocks. Real zstd, as any decoder reads it — used to build hostile inputs in tests (a bomb is RLE blocks of
 * zeros) and to check that SEAL's decoder accepts what the bound assumes.
 */
export function zstdStoreFrame(chunks: Iterable<{ rle: number; length: number } | Uint8Array>): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  u32(ZSTD_MAGIC);
  out.push(0x00); // FHD: no content size, not single-segment, no checksum, no dictionary
  out.push((17 - 10) << 3); // window 128 KiB
  const blocks: { type: 0 | 1; size: number; body: ArrayLike<number> }[] = [];
  for (const c of chunks) {
    if (c instanceof Uint8Array) {
      for (let i = 0; i < c.length; i += ZSTD_BLOCK_MAX) {
        const part = c.subarray(i, Math.min(c.length, i + ZSTD_BLOCK_MAX));
        blocks.push({ type: 0, size: part.length, body: part });
      }
    } else {
      for (let left = c.length; left > 0; left -= ZSTD_BLOCK_MAX) {
        blocks.push({ type: 1, size: Math.min(left, ZSTD_BLOCK_MAX), body: [c.rle & 0xff] });
      }
    }
  }
  if (blocks.length === 0) blocks.push({ type: 0, size: 0, body: [] });
  const parts: Uint8Array[] = [Uint8Array.from(out)];
  blocks.forEach((b, i) => {
    const h = (i === blocks.length - 1 ? 1 : 0) | (b.type << 1) | (b.size << 3);
    parts.push(Uint8Array.of(h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff), Uint8Array.from(b.body));
  });
  const total = parts.reduce((s, p) => s + p.length, 0);
  const frame = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { frame.set(p, o); o += p.length; }
  return frame;
}
