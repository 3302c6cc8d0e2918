import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as varint from "uint8-varint";
import { InferClient } from "../../../nodes/client/transport.ts";
import { RemoteError } from "../../../nodes/net/errors.ts";
import { encodeMessage } from "../../../nodes/net/framing.ts";
import { InferReplyHeader, KiB, MiB, PROTOCOL_VERSION } from "../../../nodes/net/messages.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { rawExchange, startClientNode, startMiner, type TestMiner } from "./fixtures/harness.ts";
import { TestCkksClient, randomInput, SealTestEvaluator } from "./fixtures/seal-evaluator.ts";

const concat = (...xs: Uint8Array[]) => {
  const out = new Uint8Array(xs.reduce((s, x) => s + x.byteLength, 0));
  let o = 0;
  for (const x of xs) { out.set(x, o); o += x.byteLength; }
  return out;
};
const frame = (body: Uint8Array) => concat(varint.encode(body.byteLength), body);
const jsonFrame = (obj: unknown) => frame(new TextEncoder().encode(JSON.stringify(obj)));
const bytesOf = (m: { chunks: Uint8Array[] }) => concat(...m.chunks);

async function expectRemote(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RemoteError, `expected RemoteError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe("/cerberus/infer/1.0.0 and /cerberus/health/1.0.0 on real libp2p + node-seal", () => {
  let miner: TestMiner;
  let evaluator: SealTestEvaluator;
  let userNode: CerberusNode;
  let otherNode: CerberusNode;
  let ckks: TestCkksClient;
  let client: InferClient;

  before(async () => {
    evaluator = new SealTestEvaluator();
    miner = await startMiner({ evaluator, limits: { maxOpenBytes: 2 * MiB, maxStepBytes: 512 * KiB } });
    userNode = await startClientNode();
    otherNode = await startClientNode();
    ckks = await TestCkksClient.create();
    client = new InferClient(userNode, { stepTimeoutMs: 20_000 });
  });
  after(async () => {
    ckks.delete();
    await userNode.stop();
    await otherNode.stop();
    await miner.stop();
  });

  async function assertServesOn(m: TestMiner, seed: number): Promise<void> {
    const s = await new InferClient(userNode).openSession(m.address, ckks.sessionKeys());
    const x = randomInput(seed);
    const { outputs } = await s.step([ckks.encrypt(x)]);
    assert.ok(ckks.check(x, outputs).rotErr < 1e-3);
    await s.close();
  }

  async function assertServes(node: CerberusNode, seed: number): Promise<void> {
    const c = new InferClient(node);
    const s = await c.openSession(miner.address, ckks.sessionKeys());
    const x = randomInput(seed);
    const { outputs } = await s.step([ckks.encrypt(x)]);
    const err = ckks.check(x, outputs);
    assert.ok(err.rotErr < 1e-3 && err.sqErr < 1e-3, JSON.stringify(err));
    await s.close();
  }

  test("open → steps → close: ciphertexts round-trip and decrypt to the right values; bytes are counted", async () => {
    const keys = ckks.sessionKeys();
    const s = await client.openSession(miner.address, keys);
    assert.match(s.sessionId, /^[0-9a-f]{32}$/);
    assert.ok(s.stats.open.bytesUp > keys.galoisKeys.byteLength + keys.relinKeys.byteLength);
    for (let i = 0; i < 3; i++) {
      const x = randomInput(100 + i);
      const ct = ckks.encrypt(x);
      const r = await s.step([ct]);
      assert.equal(r.seq, i);
      assert.equal(r.outputs.length, 2);
      const err = ckks.check(x, r.outputs);
      assert.ok(err.rotErr < 1e-3 && err.sqErr < 1e-3, JSON.stringify(err));
      assert.equal(r.stats.roundTrips, 1, "the step reuses the session's stream: one round trip");
      // up = the ciphertext + a header of well under 200 bytes; down = two outputs + header
      assert.ok(r.stats.bytesUp > ct.byteLength && r.stats.bytesUp < ct.byteLength + 200, String(r.stats.bytesUp));
      const outBytes = r.outputs[0]!.byteLength + r.outputs[1]!.byteLength;
      assert.ok(r.stats.bytesDown > outBytes && r.stats.bytesDown < outBytes + 200, String(r.stats.bytesDown));
    }
    assert.equal(s.stats.open.roundTrips, 2, "a fresh stream: protocol negotiation + the open");
    assert.equal(s.stats.steps, 3);
    assert.equal(s.stats.roundTrips, 3);
    assert.equal(miner.service.load.sessions, 1);
    await s.close();
    assert.equal(miner.service.load.sessions, 0);
    assert.equal(evaluator.openSessions, 0, "the evaluator session (keys) was freed");
    await assert.rejects(s.step([ckks.encrypt(randomInput(1))]), (e: unknown) => isCerberusError(e, "SESSION_CLOSED"));
  });

  test("a stream the miner dropped while idle is replaced transparently (one more round trip)", async () => {
    const m = await startMiner({ streamIdleTimeoutMs: 300 });
    try {
      const s = await client.openSession(m.address, ckks.sessionKeys());
      const x = randomInput(21);
      assert.equal((await s.step([ckks.encrypt(x)])).stats.roundTrips, 1);
      await new Promise((r) => setTimeout(r, 900));
      const r = await s.step([ckks.encrypt(x)]);
      assert.equal(r.stats.roundTrips, 2, "a new stream was negotiated");
      assert.ok(ckks.check(x, r.outputs).rotErr < 1e-3);
      await s.close();
    } finally {
      await m.stop();
    }
  });

  test("health reports plan id, load, version and uptime", async () => {
    const h = await client.health(miner.address);
    assert.equal(h.planId, evaluator.planId);
    assert.deepEqual(h.protocols, ["/cerberus/infer/1.0.0", "/cerberus/health/1.0.0"]);
    assert.match(h.software, /^cerberus-miner\//);
    assert.ok(h.uptimeMs >= 0);
    assert.deepEqual(Object.keys(h.load).sort(), ["inflight", "maxInflight", "maxSessions", "sessions"]);
    assert.equal(h.load.maxSessions, 64);
  });

  test("out-of-order and foreign-session messages get UNKNOWN_SESSION; the session owner is unaffected", async () => {
    const ct = ckks.encrypt(randomInput(7));
    // a step before any open, for a made-up session
    await expectRemote(client.exchange(miner.address, "/cerberus/infer/1.0.0",
      { v: PROTOCOL_VERSION, type: "step", sessionId: "ab".repeat(16), seq: 0 }, [ct], InferReplyHeader, 10_000), "UNKNOWN_SESSION");
    // another peer using our session id
    const mine = await client.openSession(miner.address, ckks.sessionKeys());
    const thief = new InferClient(otherNode);
    await expectRemote(thief.exchange(miner.address, "/cerberus/infer/1.0.0",
      { v: PROTOCOL_VERSION, type: "step", sessionId: mine.sessionId, seq: 0 }, [ct], InferReplyHeader, 10_000), "UNKNOWN_SESSION");
    await expectRemote(thief.exchange(miner.address, "/cerberus/infer/1.0.0",
      { v: PROTOCOL_VERSION, type: "close", sessionId: mine.sessionId }, [], InferReplyHeader, 10_000), "UNKNOWN_SESSION");
    const r = await mine.step([ct]);
    assert.equal(r.outputs.length, 2);
    await mine.close();
    // a step after close
    await expectRemote(client.exchange(miner.address, "/cerberus/infer/1.0.0",
      { v: PROTOCOL_VERSION, type: "step", sessionId: mine.sessionId, seq: 1 }, [ct], InferReplyHeader, 10_000), "UNKNOWN_SESSION");
  });

  test("malformed, oversized and unsupported messages get typed error replies, never a bare reset", async () => {
    const cases: { name: string; bytes: Uint8Array[]; code: string; closeWrite?: boolean }[] = [
      { name: "header not JSON", bytes: [frame(new TextEncoder().encode("{not json"))], code: "MALFORMED" },
      { name: "header not UTF-8", bytes: [frame(Uint8Array.of(0xff, 0xfe, 0xfd))], code: "MALFORMED" },
      { name: "header a JSON array", bytes: [jsonFrame([1, 2])], code: "MALFORMED" },
      { name: "no version", bytes: [jsonFrame({ type: "step", parts: [] })], code: "MALFORMED" },
      { name: "future version", bytes: [jsonFrame({ v: PROTOCOL_VERSION + 1, type: "step", parts: [] })], code: "UNSUPPORTED_VERSION" },
      { name: "unknown type", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "hello", parts: [] })], code: "MALFORMED" },
      { name: "bad session id", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "close", sessionId: "xyz", parts: [] })], code: "MALFORMED" },
      { name: "extra header field", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "close", sessionId: "ab".repeat(16), parts: [], challenge: true })], code: "MALFORMED" },
      { name: "negative part length", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "step", sessionId: "ab".repeat(16), seq: 0, parts: [-1] })], code: "MALFORMED" },
      { name: "open with one key part", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId, parts: [10] })], code: "MALFORMED" },
      { name: "header over 16 KiB", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "close", pad: "x".repeat(20 * KiB), parts: [] })], code: "TOO_LARGE" },
      { name: "open declaring 3 MiB of keys (cap 2 MiB)", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId, parts: [2 * MiB, MiB] }), new Uint8Array(256 * KiB)], code: "TOO_LARGE" },
      { name: "step declaring 600 KiB (cap 512 KiB)", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "step", sessionId: "ab".repeat(16), seq: 0, parts: [600 * KiB] })], code: "TOO_LARGE" },
      { name: "step with 9 parts (cap 8)", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "step", sessionId: "ab".repeat(16), seq: 0, parts: [1, 1, 1, 1, 1, 1, 1, 1, 1] })], code: "TOO_LARGE" },
      { name: "close with a payload", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "close", sessionId: "ab".repeat(16), parts: [4] }), frame(new Uint8Array(4))], code: "TOO_LARGE" },
      { name: "payload frame shorter than declared", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId, parts: [100, 100] }), frame(new Uint8Array(150))], code: "MALFORMED" },
      { name: "payload frame longer than declared", bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId, parts: [100, 100] }), frame(new Uint8Array(250))], code: "TOO_LARGE" },
      { name: "stream ends inside the payload", closeWrite: true, bytes: [jsonFrame({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId, parts: [100, 100] }), varint.encode(200), new Uint8Array(50)], code: "MALFORMED" },
      { name: "stream ends before any request", closeWrite: true, bytes: [], code: "MALFORMED" },
      { name: "wrong plan", bytes: [bytesOf(encodeMessage({ v: PROTOCOL_VERSION, type: "open", planId: "00".repeat(32) }, [new Uint8Array(8), new Uint8Array(8)]))], code: "PLAN_MISMATCH" },
      { name: "garbage keys", bytes: [bytesOf(encodeMessage({ v: PROTOCOL_VERSION, type: "open", planId: evaluator.planId }, [new Uint8Array(1000).fill(3), new Uint8Array(1000).fill(4)]))], code: "BAD_KEYS" },
    ];
    for (const c of cases) {
      const reply = await rawExchange(otherNode, miner, c.bytes, { closeWrite: c.closeWrite }).catch((e: unknown) => { throw new Error(`${c.name}: ${String(e)}`); });
      assert.ok(reply !== undefined, `${c.name}: no reply`);
      assert.equal(reply.type, "error", `${c.name}: ${JSON.stringify(reply)}`);
      assert.equal(reply.type === "error" && reply.code, c.code, `${c.name}: ${JSON.stringify(reply)}`);
    }
    // a garbage ciphertext inside a valid session
    const s = await new InferClient(otherNode).openSession(miner.address, ckks.sessionKeys());
    await expectRemote(s.step([new Uint8Array(5000).fill(9)]), "BAD_CIPHERTEXT");
    await expectRemote(s.step([ckks.encrypt(randomInput(1)), ckks.encrypt(randomInput(2))]), "BAD_CIPHERTEXT");
    await s.close();
    // nothing leaked, and the miner still serves both peers
    assert.equal(miner.service.load.inflight, 0);
    assert.equal(miner.service.load.sessions, 0);
    await assertServes(userNode, 11);
    await assertServes(otherNode, 12);
  });

  test("a 16 MiB key upload crosses in full (flow control, big frames); garbage keys are BAD_KEYS", async () => {
    const big = await startMiner({ evaluator });
    try {
      const before = big.events.length;
      const junk = { planId: evaluator.planId, galoisKeys: new Uint8Array(16 * MiB).fill(7), relinKeys: new Uint8Array(1024) };
      await expectRemote(new InferClient(otherNode).openSession(big.address, junk), "BAD_KEYS");
      const e = big.events[before]!;
      assert.deepEqual(e.partSizes, [16 * MiB, 1024], "the miner received every byte before judging the keys");
      await assertServesOn(big, 31);
    } finally {
      await big.stop();
    }
  });

  test("a client-side cap violation is refused locally before anything is sent", async () => {
    const small = new InferClient(userNode, { limits: { maxStepBytes: 1000, maxOpenBytes: 1000 } });
    const before = miner.events.length;
    await assert.rejects(small.openSession(miner.address, ckks.sessionKeys()), (e: unknown) => isCerberusError(e, "TOO_LARGE"));
    const s = await new InferClient(userNode, { limits: { maxStepBytes: 1000 } }).openSession(miner.address, ckks.sessionKeys());
    assert.equal(miner.events.length, before + 1);
    await assert.rejects(s.step([new Uint8Array(2000)]), (e: unknown) => isCerberusError(e, "TOO_LARGE"));
    assert.equal(miner.events.length, before + 1, "nothing was sent for the oversized step");
    await s.close();
  });
});
