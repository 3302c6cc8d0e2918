import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { FrameReader, encodeMessage, readMessage } from "../../../nodes/net/framing.ts";
import { DEFAULT_LIMITS, InferRequestHeader, InferReplyHeader, KiB, PROTOCOL_VERSION } from "../../../nodes/net/messages.ts";
import { loadOrCreateIdentity } from "../../../nodes/net/identity.ts";

/** Re-chunks bytes at the given cut points, as TCP/yamux may deliver them. */
async function* chunked(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let prev = 0;
  for (const c of [...new Set(cuts.map((x) => x % (bytes.byteLength + 1)))].sort((a, b) => a - b)) {
    if (c > prev) { yield bytes.subarray(prev, c); prev = c; }
  }
  if (prev < bytes.byteLength) yield bytes.subarray(prev);
}
const flat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.byteLength; }
  return out;
};

describe("envelope framing (header frame + binary payload frame)", () => {
  test("any message survives any chunking byte-exactly; several messages in a row too", async () => {
    const part = fc.uint8Array({ minLength: 1, maxLength: 3000 });
    await fc.assert(fc.asyncProperty(
      fc.array(part, { minLength: 1, maxLength: 8 }), fc.nat(2 ** 32 - 1), fc.array(fc.nat(), { maxLength: 40 }),
      async (parts, seq, cuts) => {
        const header = { v: PROTOCOL_VERSION, type: "step", sessionId: "0f".repeat(16), seq };
        const one = flat(encodeMessage(header, parts).chunks);
        const close = flat(encodeMessage({ v: PROTOCOL_VERSION, type: "close", sessionId: "0f".repeat(16) }).chunks);
        const reader = new FrameReader(chunked(flat([one, close]), cuts));
        const m = await readMessage(reader, DEFAULT_LIMITS, InferRequestHeader);
        assert.ok(m !== undefined);
        assert.deepEqual(m.header, { ...header, parts: parts.map((p) => p.byteLength) });
        assert.equal(m.parts.length, parts.length);
        m.parts.forEach((p, i) => assert.deepEqual(p, parts[i]));
        assert.equal(m.wireBytes, one.byteLength);
        const m2 = await readMessage(reader, DEFAULT_LIMITS, InferRequestHeader);
        assert.equal(m2?.header.type, "close");
        assert.equal(await readMessage(reader, DEFAULT_LIMITS, InferRequestHeader), undefined);
      }), { numRuns: 150 });
  });

  test("caps are enforced from the header, before the payload is buffered", async () => {
    // the payload never arrives: a refusal must not wait for it
    const encoded = encodeMessage({ v: PROTOCOL_VERSION, type: "step", sessionId: "0f".repeat(16), seq: 0 }, [new Uint8Array(10)]);
    const headerOnly = flat(encoded.chunks.slice(0, 2)); // uvarint(len) + header JSON
    const limits = { ...DEFAULT_LIMITS, maxStepBytes: 5 };
    async function* headerOnlyThenHang(): AsyncGenerator<Uint8Array> {
      yield headerOnly;
      await new Promise(() => {}); // the stream stays open with no payload
    }
    await assert.rejects(readMessage(new FrameReader(headerOnlyThenHang()), limits, InferRequestHeader),
      (e: unknown) => isCerberusError(e, "TOO_LARGE"));
    // a reply type without parts may not carry any
    const withParts = flat(encodeMessage({ v: PROTOCOL_VERSION, type: "closed", sessionId: "0f".repeat(16) }, [new Uint8Array(3)]).chunks);
    await assert.rejects(readMessage(new FrameReader(chunked(withParts, [])), DEFAULT_LIMITS, InferReplyHeader),
      (e: unknown) => isCerberusError(e, "TOO_LARGE"));
    // header frame cap
    const fat = flat(encodeMessage({ v: PROTOCOL_VERSION, type: "close", sessionId: "0f".repeat(16), pad: "x".repeat(17 * KiB) }).chunks);
    await assert.rejects(readMessage(new FrameReader(chunked(fat, [])), DEFAULT_LIMITS, InferRequestHeader),
      (e: unknown) => isCerberusError(e, "TOO_LARGE"));
  });

  test("empty binary parts cannot be encoded (the format reserves length ≥ 1)", () => {
    assert.throws(() => encodeMessage({ v: PROTOCOL_VERSION, type: "step" }, [new Uint8Array(0)]), (e: unknown) => isCerberusError(e, "MALFORMED"));
  });
});

describe("node identity file", () => {
  test("created once with mode 0600, then the same peer id on every load; a corrupt file is a typed error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cerberus-id-"));
    const file = join(dir, "sub", "miner.key");
    const a = await loadOrCreateIdentity(file);
    assert.equal(a.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const b = await loadOrCreateIdentity(file);
    assert.equal(b.created, false);
    assert.equal(b.peerId, a.peerId);
    writeFileSync(join(dir, "bad.key"), "not a key");
    await assert.rejects(loadOrCreateIdentity(join(dir, "bad.key")), (e: unknown) => isCerberusError(e, "BAD_IDENTITY"));
  });
});
