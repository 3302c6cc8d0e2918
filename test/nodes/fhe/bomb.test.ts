import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { FheClient, MinerEvaluator, WorkerPoolEvaluator, getParamSet, type PlanDescriptor } from "../../../nodes/fhe/index.ts";
import { randomMlp } from "../../../nodes/fhe/random-model.ts";
import { getContext, loadSeal } from "../../../nodes/fhe/seal.ts";
import { COMPR_ZSTD, inflateLimit, unwrapSeal, wrapSeal } from "../../../nodes/fhe/serialize.ts";
import { ZSTD_BLOCK_MAX, zstdInflateBound, zstdStoreFrame } from "../../../nodes/fhe/zstd-bound.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { sealBomb, sealZstdObject } from "./bombs.ts";
import { randomInput, relMaxError } from "./helpers.ts";
import { scaled, slowdown } from "../calibration.ts";

const MiB = 2 ** 20;
const model = randomMlp({ dims: [8, 16, 10], seed: 77, poly: { c0: 0.1, c1: 0.5, c2: 0.25 } }).bytes;
let ev: MinerEvaluator;
let client: FheClient;
let d: PlanDescriptor;

before(async () => {
  ev = await MinerEvaluator.create(model);
  d = ev.descriptor;
  client = await FheClient.create(d);
});
after(() => {
  client.dispose();
  ev.dispose();
});

/** Runs `f`, returning its typed error code, wall time and the RSS growth it caused. */
async function measure(f: () => unknown): Promise<{ code: string; ms: number; rssMiB: number }> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let code = "OK";
  try {
    await f();
  } catch (err) {
    code = isCerberusError(err) ? err.code : `UNTYPED:${String(err)}`;
  }
  return { code, ms: performance.now() - t0, rssMiB: (process.memoryUsage().rss - rss0) / MiB };
}

test("the zstd bound reads honest SEAL blobs within the plan's caps, and the store-frame encoder is zstd SEAL accepts", async () => {
  const keys = client.keygen();
  const x = randomInput(d.inputDim, 5);
  const [ct] = client.encryptInput(x);
  const blobs = [
    { what: "galois keys", bytes: keys.galoisKeys, cap: d.caps.galoisKeyBytes },
    { what: "relin keys", bytes: keys.relinKeys, cap: d.caps.relinKeyBytes },
    { what: "ciphertext", bytes: ct!, cap: d.caps.inputCiphertextBytes },
  ] as const;
  for (const b of blobs) {
    const body = unwrapSeal(b.what, b.bytes, b.cap, COMPR_ZSTD);
    const bound = zstdInflateBound(body.subarray(16));
    assert.equal(bound.exceeded, false);
    assert.ok(16 + bound.maxBytes <= inflateLimit(b.cap), `${b.what}: bound ${bound.maxBytes} within ${inflateLimit(b.cap)}`);
    assert.ok(bound.maxBytes > body.length, `${b.what} inflates (bound ${bound.maxBytes} > ${body.length} compressed)`);
  }

  // The same ciphertext re-encoded as Raw blocks by our encoder: SEAL's own zstd decoder reads it back bit-exact,
  // the bound of a Raw frame is exact, and the miner evaluates it like the original.
  const seal = await loadSeal();
  const fc = getContext(seal, getParamSet(d.params));
  const loaded = seal.CipherText();
  loaded.loadArray(fc.context, unwrapSeal("ciphertext", ct!, d.caps.inputCiphertextBytes, COMPR_ZSTD));
  const raw = loaded.saveArray(seal.ComprModeType.none);
  loaded.delete();
  const recrafted = sealZstdObject(zstdStoreFrame([raw.subarray(16)]));
  assert.equal(zstdInflateBound(recrafted.subarray(16)).maxBytes, raw.length - 16, "a Raw frame's bound is exact");
  const again = seal.CipherText();
  again.loadArray(fc.context, recrafted);
  assert.deepEqual(again.saveArray(seal.ComprModeType.none), raw, "SEAL inflated our frame to the same object");
  again.delete();
  const s = await ev.openSession(keys);
  try {
    const [a, b] = [await s.evaluate([ct!]), await s.evaluate([wrapSeal("ciphertext", recrafted)])];
    assert.ok(relMaxError(client.decryptOutput(b), client.decryptOutput(a)) < 1e-4);
  } finally {
    s.close();
  }
});

test("the 32 KiB bomb (1 GiB of zero RLE blocks) is refused typed in < 100 ms without inflating: keys, input and output", async () => {
  const slow = slowdown();
  const gkBomb = sealBomb("galois keys");
  assert.equal(gkBomb.length, 32_814, "the size the issue measured");
  const keys = client.keygen();

  const open = await measure(() => ev.openSession({ ...keys, galoisKeys: gkBomb }));
  const relin = await measure(() => ev.openSession({ ...keys, relinKeys: sealBomb("relin keys") }));
  const s = await ev.openSession(keys);
  const step = await measure(() => s.evaluate([sealBomb("ciphertext")]));
  // A bomb just over the bound (one block past cap + rounding) is refused too; a real one would be far bigger.
  const justOver = await measure(() => s.evaluate([sealBomb("ciphertext", inflateLimit(d.caps.inputCiphertextBytes) + ZSTD_BLOCK_MAX)]));
  const out = await measure(() => client.decryptOutput(Array.from({ length: d.outputBlocks }, () => sealBomb("ciphertext"))));
  for (const [name, r] of Object.entries({ open, relin, step, justOver, out })) {
    assert.equal(r.code, "FHE_INFLATE_CAP", `${name}: ${r.code}`);
    // Inflating the claimed 1 GiB takes seconds; reading the zstd block headers, milliseconds (on an idle core).
    const limit = scaled(100, slow);
    assert.ok(r.ms < limit, `${name}: refused in ${r.ms.toFixed(1)} ms (limit ${limit.toFixed(0)} ms on this machine now)`);
    assert.ok(r.rssMiB < 64, `${name}: RSS grew ${r.rssMiB.toFixed(1)} MiB`);
  }
  // the session that saw the bomb still evaluates honest input
  const x = randomInput(d.inputDim, 9);
  const y = client.decryptOutput(await s.evaluate(client.encryptInput(x)));
  assert.equal(y.length, d.outputDim);
  s.close();
});

test("malformed zstd framing inside a SEAL blob is a typed error, never a SEAL load", () => {
  const frame = zstdStoreFrame([{ rle: 0, length: 1000 }]);
  const cases: [string, Uint8Array][] = [
    ["bad magic", Uint8Array.from([0, 0, 0, 0, ...frame.subarray(4)])],
    ["truncated", frame.subarray(0, frame.length - 1)],
    ["trailing bytes", Uint8Array.from([...frame, 0])],
    ["dictionary", Uint8Array.from([...frame.subarray(0, 4), frame[4]! | 1, ...frame.subarray(5)])],
  ];
  for (const [name, f] of cases) {
    assert.throws(() => client.decryptOutput(Array.from({ length: d.outputBlocks }, () => wrapSeal("ciphertext", sealZstdObject(f)))),
      (e: unknown) => isCerberusError(e, "FHE_CIPHERTEXT_INVALID"), name);
  }
});

test("in the worker pool a bomb is a typed refusal too: the worker is neither retired nor replaced", async () => {
  const pool = await WorkerPoolEvaluator.create(model, {}, { threads: 1 });
  try {
    const keys = client.keygen();
    const slow = slowdown();
    const open = await measure(() => pool.openSession({ ...keys, galoisKeys: sealBomb("galois keys") }));
    assert.equal(open.code, "FHE_INFLATE_CAP");
    const limit = scaled(100, slow);
    assert.ok(open.ms < limit, `refused in ${open.ms.toFixed(1)} ms across the thread boundary (limit ${limit.toFixed(0)} ms)`);
    const s = await pool.openSession(keys);
    const step = await measure(() => s.evaluate([sealBomb("ciphertext")]));
    assert.equal(step.code, "FHE_INFLATE_CAP");
    const y = client.decryptOutput(await s.evaluate(client.encryptInput(randomInput(d.inputDim, 2))));
    assert.equal(y.length, d.outputDim);
    s.close();
    const { threads, live, replaced } = pool.stats();
    assert.deepEqual({ threads, live, replaced }, { threads: 1, live: 1, replaced: 0 });
  } finally {
    await pool.dispose();
  }
});
