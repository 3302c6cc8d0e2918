import * as lp from "it-length-prefixed";
import * as varint from "uint8-varint";
import type { z } from "zod";
import type { Stream, AbortOptions } from "@libp2p/interface";
import {
  MalformedMessageError, MessageTooLargeError, ProtocolError, UnsupportedVersionError,
} from "./errors.ts";
import { PROTOCOL_VERSION, payloadCap, type WireLimits } from "./messages.ts";

/**
 * The binary-safe envelope (docs/PROTOCOL.md, "Transport"): a message is one or two unsigned-varint length-prefixed
 * frames (it-length-prefixed):
 *
 *   frame 1 = UTF-8 JSON header, ≤ maxHeaderBytes, with `parts: [len0, len1, ...]` (byte lengths, each ≥ 1)
 *   frame 2 = the parts' raw bytes concatenated (present iff parts is non-empty; length = Σ parts)
 *
 * Keys and ciphertexts are never JSON-encoded or base64'd. Because the header arrives first, a reader knows the
 * message type — and therefore its payload cap — before it buffers a single payload byte.
 */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export interface DecodedMessage<H> {
  header: H;
  /** The header exactly as received (UTF-8 JSON text), for logs and shape comparisons. */
  headerJson: string;
  parts: Uint8Array[];
  /** Bytes on the wire for this message (length prefixes included). */
  wireBytes: number;
}

/** A header as the caller builds it; the encoder adds `parts` from the actual part lengths. */
export type OutgoingHeader = { v: number; type: string } & Record<string, unknown>;

/** A message ready to send: its chunks in order (parts are referenced, not copied) and its total size. */
export interface EncodedMessage {
  chunks: Uint8Array[];
  byteLength: number;
}

export function encodeMessage(header: OutgoingHeader, parts: readonly Uint8Array[] = []): EncodedMessage {
  for (const p of parts) if (p.byteLength === 0) throw new MalformedMessageError("empty binary part");
  const json = utf8Encoder.encode(JSON.stringify({ ...header, parts: parts.map((p) => p.byteLength) }));
  const chunks: Uint8Array[] = [varint.encode(json.byteLength), json];
  if (parts.length > 0) {
    chunks.push(varint.encode(parts.reduce((s, p) => s + p.byteLength, 0)), ...parts);
  }
  return { chunks, byteLength: chunks.reduce((s, c) => s + c.byteLength, 0) };
}

/** Queues every chunk on the stream, then waits until the muxer has taken them (backpressure). */
export async function sendEncoded(stream: Stream, message: EncodedMessage, options?: AbortOptions): Promise<void> {
  for (const chunk of message.chunks) stream.send(chunk);
  if (stream.writableNeedsDrain) await stream.onDrain(options);
}

/** The frame type it-length-prefixed yields (a Uint8ArrayList; we only need these two members). */
interface Frame {
  readonly byteLength: number;
  subarray(start?: number, end?: number): Uint8Array;
}

/**
 * Reads frames from a stream with a cap that can change between frames: the length prefix is checked against the
 * current cap before the frame body is buffered (it-length-prefixed calls our length decoder first).
 */
export class FrameReader {
  private cap = 0;
  private readonly frames: AsyncGenerator<Frame>;

  constructor(source: Stream | AsyncIterable<Uint8Array>) {
    const decodeLength = (buf: Parameters<lp.LengthDecoderFunction>[0]): number => {
      const n = varint.decode(buf); // RangeError on a short read: it-length-prefixed waits for more bytes
      decodeLength.bytes = varint.encodingLength(n);
      if (n > this.cap) throw new MessageTooLargeError(`frame of ${n} bytes exceeds the cap of ${this.cap}`);
      return n;
    };
    decodeLength.bytes = 0;
    // The cast bridges two copies of uint8arraylist's types (libp2p's and it-length-prefixed's); same runtime class.
    this.frames = lp.decode(source as AsyncIterable<Uint8Array>, {
      lengthDecoder: decodeLength, maxDataLength: Number.MAX_SAFE_INTEGER,
    });
  }

  /** The next frame, or undefined when the stream ended cleanly between frames. */
  async next(maxBytes: number): Promise<Frame | undefined> {
    this.cap = maxBytes;
    try {
      const r = await this.frames.next();
      return r.done === true ? undefined : r.value;
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      const name = (err as { name?: string } | null)?.name;
      if (name === "UnexpectedEOFError") throw new MalformedMessageError("stream ended inside a frame", { cause: err });
      if (name === "InvalidDataLengthLengthError" || name === "InvalidMessageLengthError") {
        throw new MalformedMessageError("bad length prefix", { cause: err });
      }
      throw err; // stream reset / abort: the caller maps it
    }
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/**
 * Reads one message: header frame, validation, then the payload frame under the cap of the header's type.
 * Returns undefined if the stream ended before any byte of a header. Throws ProtocolError subclasses
 * (MALFORMED, TOO_LARGE, UNSUPPORTED_VERSION) for bad input.
 */
export async function readMessage<H extends { parts: number[] }>(
  reader: FrameReader, limits: WireLimits, schema: z.ZodType<H>,
  /** Runs after the header validated and before the payload is read: throw here to refuse early (limits, ...). */
  onHeader?: (header: H) => void,
): Promise<DecodedMessage<H> | undefined> {
  const headerFrame = await reader.next(limits.maxHeaderBytes);
  if (headerFrame === undefined) return undefined;
  let wireBytes = headerFrame.byteLength + varint.encodingLength(headerFrame.byteLength);

  let raw: unknown;
  let headerJson: string;
  try {
    headerJson = utf8Decoder.decode(headerFrame.subarray());
    raw = JSON.parse(headerJson);
  } catch (err) {
    throw new MalformedMessageError("header is not UTF-8 JSON", { cause: err });
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new MalformedMessageError("header is not a JSON object");
  }
  const loose = raw as { v?: unknown; type?: unknown; parts?: unknown };
  if (loose.v !== PROTOCOL_VERSION) {
    throw typeof loose.v === "number"
      ? new UnsupportedVersionError(`version ${loose.v} not supported (this node speaks ${PROTOCOL_VERSION})`)
      : new MalformedMessageError("header has no numeric version `v`");
  }
  // Size check before the schema so an oversized declaration is reported as TOO_LARGE, not MALFORMED.
  if (!Array.isArray(loose.parts) || !loose.parts.every((n) => Number.isSafeInteger(n) && n >= 1)) {
    throw new MalformedMessageError("header `parts` must be an array of positive integers");
  }
  const declared = loose.parts as number[];
  const cap = payloadCap(typeof loose.type === "string" ? loose.type : "", limits);
  const total = declared.reduce((s, n) => s + n, 0);
  if (declared.length > cap.maxParts) {
    throw new MessageTooLargeError(`${String(loose.type)} carries ${declared.length} parts, at most ${cap.maxParts}`);
  }
  if (total > cap.maxBytes) {
    throw new MessageTooLargeError(`${String(loose.type)} payload of ${total} bytes exceeds the cap of ${cap.maxBytes}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new MalformedMessageError(`invalid header: ${describeIssues(parsed.error)}`);
  const header = parsed.data;
  onHeader?.(header);

  const parts: Uint8Array[] = [];
  if (declared.length > 0) {
    const payload = await reader.next(total);
    if (payload === undefined) throw new MalformedMessageError("stream ended before the payload frame");
    if (payload.byteLength !== total) {
      throw new MalformedMessageError(`payload frame is ${payload.byteLength} bytes, header declares ${total}`);
    }
    wireBytes += payload.byteLength + varint.encodingLength(payload.byteLength);
    let offset = 0;
    for (const len of declared) {
      parts.push(payload.subarray(offset, offset + len));
      offset += len;
    }
  }
  return { header, headerJson, parts, wireBytes };
}

/** Sends one message, waiting for the muxer to drain if its buffer is full. Returns the bytes written. */
export async function writeMessage(
  stream: Stream, header: OutgoingHeader, parts: readonly Uint8Array[] = [], options?: AbortOptions,
): Promise<number> {
  const message = encodeMessage(header, parts);
  await sendEncoded(stream, message, options);
  return message.byteLength;
}
