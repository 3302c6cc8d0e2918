import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CiphertextInvalidError, ClosedError, FheClient, FheError, KeysInvalidError, LevelBudgetError, MinerEvaluator,
  PlanDescriptorError, ShapeError, SizeCapError, UnsupportedOpError, type EvalSession,
} from "../../../nodes/fhe/index.ts";
import { createHash } from "node:crypto";
import { planIdFor } from "../../../nodes/fhe/plan.ts";
import { encodeModel, randomMlp } from "../../../nodes/fhe/random-model.ts";
import { ENVELOPE_BYTES, wrapSeal } from "../../../nodes/fhe/serialize.ts";
import { ortSession, randomInput, relMaxError } from "./helpers.ts";

// One healthy miner session shared by the negative cases; after every bad input it must still compute correctly.
const model = randomMlp({ dims: [16, 16, 12], seed: 21 });
let ev: MinerEvaluator;
let client: FheClient;
let session: EvalSession;
let good: Uint8Array;

before(async () => {
  ev = await MinerEvaluator.create(model.bytes);
  client = await FheClient.create(ev.descriptor);
  session = await ev.openSession(client.keygen());
  good = client.encryptInput(randomInput(16, 1))[0];
});
after(() => {
  session.close();
  ev.dispose();
  client.dispose();
});

async function assertHealthy(): Promise<void> {
  const x = randomInput(16, 42);
  const y = client.decryptOutput(await session.evaluate(client.encryptInput(x)));
  const ref = await ortSession(model.bytes);
  assert.ok(relMaxError(y, await ref.run(x)) <= 1e-3);
  await ref.release();
}

const typed = (code: string) => (e: unknown) => e instanceof FheError && e.code === code;

test("unsupported op and too-deep plans fail typed at model load", async () => {
  const W = new Float32Array(16).fill(0.5);
  const relu = encodeModel([
    { opType: "MatMul", input: ["x", "W"], output: ["h"] },
    { opType: "Softmax", input: ["h"], output: ["logits"], name: "sm" },
  ], [{ name: "W", dims: [4, 4], dataType: 1, rawData: new Uint8Array(W.buffer) }], 4, 4);
  await assert.rejects(MinerEvaluator.create(relu), (e: unknown) => e instanceof UnsupportedOpError && e.op === "Softmax");
  await assert.rejects(MinerEvaluator.create(randomMlp({ dims: [8, 8, 8, 8] }).bytes, { params: "n8192-l3" }),
    LevelBudgetError);
  await assert.rejects(MinerEvaluator.create(randomMlp({ dims: [4, 4, 4, 4, 4, 4, 4] }).bytes), LevelBudgetError);
  await assert.rejects(MinerEvaluator.create(model.bytes, { params: "n4096-nope" }), typed("FHE_PARAMS_MISMATCH"));
  await assertHealthy();
});

test("truncated, corrupted, oversized and mis-shaped ciphertexts are typed errors", async () => {
  await assert.rejects(session.evaluate([good.slice(0, good.length - 100)]), CiphertextInvalidError);
  await assert.rejects(session.evaluate([good.slice(0, 10)]), CiphertextInvalidError);
  const flipped = good.slice();
  flipped[flipped.length >> 1] ^= 0xff;
  await assert.rejects(session.evaluate([flipped]), CiphertextInvalidError);
  await assert.rejects(session.evaluate([new Uint8Array(5000).fill(7)]), CiphertextInvalidError);
  // A peer that recomputes the envelope digest still cannot get past SEAL-level validation (and never aborts WASM).
  const body = good.subarray(ENVELOPE_BYTES);
  const rewrap = (b: Uint8Array) => wrapSeal("ciphertext", b);
  const noCompr = body.slice();
  noCompr[5] = 0;
  const fixedSize = body.slice(0, 1000);
  new DataView(fixedSize.buffer).setBigUint64(8, 1000n, true);
  for (const bad of [body.slice(0, body.length - 100), noCompr, fixedSize, new Uint8Array(5000).fill(7)]) {
    await assert.rejects(session.evaluate([rewrap(bad)]), CiphertextInvalidError);
  }
  const keyBody = client.keygen().relinKeys.subarray(ENVELOPE_BYTES);
  await assert.rejects(session.evaluate([wrapSeal("relin keys", body)]), CiphertextInvalidError); // wrong kind
  await assert.rejects(session.evaluate([wrapSeal("ciphertext", keyBody)]), SizeCapError); // a key is far bigger
  await assert.rejects(session.evaluate([new Uint8Array(ev.descriptor.caps.inputCiphertextBytes + 1)]), SizeCapError);
  await assert.rejects(session.evaluate([good, good]), ShapeError);
  await assert.rejects(session.evaluate([]), ShapeError);
  await assertHealthy();
});

test("a ciphertext made under another parameter set or level is rejected typed", async () => {
  // Same model, forced onto N = 16384: its input ciphertext cannot be read in the N = 8192 context.
  const other = await MinerEvaluator.create(model.bytes, { params: "n16384-l9" });
  const otherClient = await FheClient.create(other.descriptor);
  const foreign = otherClient.encryptInput(randomInput(16, 3));
  await assert.rejects(session.evaluate(foreign), (e: unknown) => e instanceof CiphertextInvalidError || e instanceof SizeCapError);
  // A one-level plan on the same parameters uploads at level 1, not level 3: wrong parms id.
  const linear = randomMlp({ dims: [16, 12], seed: 2, poly: null });
  const shallow = await MinerEvaluator.create(linear.bytes);
  assert.equal(shallow.descriptor.inputLevel, 1);
  const shallowClient = await FheClient.create(shallow.descriptor);
  await assert.rejects(session.evaluate(shallowClient.encryptInput(randomInput(16, 4))), /level 3/);
  // Keys from the N = 16384 context, and keys of a plan with other rotation steps, do not open a session here.
  const otherKeys = otherClient.keygen();
  await assert.rejects(ev.openSession({ ...otherKeys, planId: ev.planId }),
    (e: unknown) => e instanceof KeysInvalidError || e instanceof SizeCapError);
  const shallowKeys = shallowClient.keygen();
  await assert.rejects(ev.openSession({ ...shallowKeys, planId: ev.planId }), KeysInvalidError);
  await assert.rejects(ev.openSession(shallowKeys), PlanDescriptorError);
  const mine = client.keygen();
  const bad = mine.galoisKeys.slice();
  bad[bad.length >> 1] ^= 0x55;
  await assert.rejects(ev.openSession({ ...mine, galoisKeys: bad }), KeysInvalidError);
  await assert.rejects(ev.openSession({ ...mine, relinKeys: mine.relinKeys.slice(0, 1000) }), KeysInvalidError);
  for (const x of [other, shallow]) x.dispose();
  for (const x of [otherClient, shallowClient]) x.dispose();
  await assertHealthy();
});

test("client-side checks: bad descriptor, wrong input length, wrong output count; closed objects", async () => {
  await assert.rejects(FheClient.create({ ...ev.descriptor, params: "n1" }), PlanDescriptorError);
  await assert.rejects(FheClient.create({ nope: true }), PlanDescriptorError);
  // The plan id is checkable against the Brain's on-chain modelHash (sha256 of the model bytes).
  assert.equal(ev.descriptor.modelHash, createHash("sha256").update(model.bytes).digest("hex"));
  assert.equal(planIdFor(ev.descriptor.modelHash, ev.descriptor.options), ev.planId);
  await assert.rejects(FheClient.create({ ...ev.descriptor, planId: "0".repeat(64) }), PlanDescriptorError);
  await assert.rejects(FheClient.create({ ...ev.descriptor, options: { ...ev.descriptor.options, babySteps: 2 } }),
    PlanDescriptorError);
  assert.throws(() => client.encryptInput(new Float32Array(15)), ShapeError);
  assert.throws(() => client.encryptInput(Float32Array.of(...new Array(15).fill(0), NaN)), ShapeError);
  assert.throws(() => client.decryptOutput([]), ShapeError);
  assert.throws(() => client.decryptOutput([good.slice(0, 40)]), CiphertextInvalidError);
  const s2 = await ev.openSession(client.keygen());
  assert.equal(ev.openSessions, 2);
  s2.close();
  assert.equal(ev.openSessions, 1);
  await assert.rejects(s2.evaluate([good]), ClosedError);
  await assertHealthy();
});
