import { test } from "node:test";
import assert from "node:assert/strict";
import { FheClient, MinerEvaluator, WorkerPoolEvaluator } from "../../../nodes/fhe/index.ts";
import { randomMlp } from "../../../nodes/fhe/random-model.ts";
import { ortSession, randomInput, relMaxError } from "./helpers.ts";

/**
 * A lone step on an idle pool is split over two workers (worker-pool.ts, MinerEvaluator.runSplit): the same keys and
 * input give the very output bytes of the unsplit evaluation. Real node-seal ciphertexts; the model has the LM's
 * shape (linear → square → linear with several output blocks).
 */
test("a step split over two workers returns the unsplit output bytes (and decrypts to the plaintext reference)", async () => {
  const { bytes } = randomMlp({ dims: [64, 64, 9000], seed: 77 }); // 9,000 outputs: 3 blocks of 4,096 slots
  const pool = await WorkerPoolEvaluator.create(bytes, {}, { threads: 2 });
  const single = await MinerEvaluator.create(bytes, {});
  const ref = await ortSession(bytes);
  try {
    assert.equal(pool.splits, true, "the LM's shape is splittable");
    assert.equal(single.splittable, true);
    const fhe = await FheClient.create(pool.descriptor);
    const keys = fhe.keygen();
    const [a, b] = [await pool.openSession(keys), await single.openSession(keys)];
    // Bad input fails both halves with the typed error, quickly (neither waits for the other).
    const t0 = performance.now();
    await assert.rejects(a.evaluate([new Uint8Array(1000).fill(7)]), (e: unknown) => (e as { code?: string }).code === "FHE_CIPHERTEXT_INVALID" ||
      (e as { code?: string }).code === "FHE_SIZE_CAP" || (e as { code?: string }).code === "FHE_INFLATE_CAP");
    assert.ok(performance.now() - t0 < 5_000);
    assert.deepEqual({ split: pool.stats().splitSteps, whole: pool.stats().wholeSteps }, { split: 1, whole: 0 });
    await new Promise((r) => setTimeout(r, 300)); // the step failed with its first half; the other half ends just after
    for (const seed of [1, 2]) {
      const x = randomInput(64, seed);
      const input = fhe.encryptInput(x);
      const split = await a.evaluate(input);
      const whole = await b.evaluate(input);
      assert.equal(split.length, whole.length, "same number of output ciphertexts");
      // The same operations in the same order on the same ciphertexts: the bytes, not just the values, agree.
      for (let k = 0; k < split.length; k++) assert.deepEqual(split[k], whole[k], `output ${k}`);
      const ys = fhe.decryptOutput(split);
      const expected = await ref.run(x);
      assert.ok(relMaxError(ys, expected) < 1e-3, `split vs onnxruntime: ${relMaxError(ys, expected)}`);
    }
    assert.equal(pool.stats().splitSteps, 3);
    assert.equal(pool.stats().wholeSteps, 0);
    // Step times are summed per mode (bench:load reads them): two split steps served, none whole yet.
    assert.ok(pool.stats().splitStepMs > 0, String(pool.stats().splitStepMs));
    assert.equal(pool.stats().wholeStepMs, 0);
    // Every 4th lone step runs whole (until both modes have 3 samples), so the pool learns which is faster here.
    await a.evaluate(fhe.encryptInput(randomInput(64, 3)));
    assert.deepEqual({ split: pool.stats().splitSteps, whole: pool.stats().wholeSteps }, { split: 3, whole: 1 });
    assert.ok(pool.stats().wholeStepMs > 0, String(pool.stats().wholeStepMs));

    // Two steps at once are not split: each takes a worker.
    const xs = [randomInput(64, 4), randomInput(64, 5)];
    const outs = await Promise.all(xs.map((x) => a.evaluate(fhe.encryptInput(x))));
    for (let i = 0; i < 2; i++) assert.ok(relMaxError(fhe.decryptOutput(outs[i]!), await ref.run(xs[i]!)) < 1e-3);
    assert.equal(pool.stats().wholeSteps, 3);
    const again = randomInput(64, 6);
    assert.ok(relMaxError(fhe.decryptOutput(await a.evaluate(fhe.encryptInput(again))), await ref.run(again)) < 1e-3,
      "the pool still splits and serves after a refused input");
    assert.deepEqual({ live: pool.stats().live, replaced: pool.stats().replaced }, { live: 2, replaced: 0 });
    a.close();
    b.close();
    fhe.dispose();
  } finally {
    await ref.release();
    single.dispose();
    await pool.dispose();
  }
});

test("split off: the pool runs every step whole", async () => {
  const { bytes } = randomMlp({ dims: [64, 64, 9000], seed: 78 });
  const pool = await WorkerPoolEvaluator.create(bytes, {}, { threads: 2, split: false });
  try {
    assert.equal(pool.splits, false);
    const fhe = await FheClient.create(pool.descriptor);
    const s = await pool.openSession(fhe.keygen());
    await s.evaluate(fhe.encryptInput(randomInput(64, 1)));
    assert.deepEqual({ split: pool.stats().splitSteps, whole: pool.stats().wholeSteps }, { split: 0, whole: 1 });
    s.close();
    fhe.dispose();
  } finally {
    await pool.dispose();
  }
});
