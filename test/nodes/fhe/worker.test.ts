import { test } from "node:test";
import assert from "node:assert/strict";
import type { Worker } from "node:worker_threads";
import { FheClient, KeysInvalidError, LevelBudgetError, WorkerLostError, WorkerPoolEvaluator } from "../../../nodes/fhe/index.ts";
import { randomMlp } from "../../../nodes/fhe/random-model.ts";
import { ortSession, randomInput, relMaxError } from "./helpers.ts";

test("optional worker-thread pool: two sessions evaluate in parallel, typed errors cross the thread boundary", async () => {
  const { bytes } = randomMlp({ dims: [16, 16, 10], seed: 31 });
  const pool = await WorkerPoolEvaluator.create(bytes, {}, { threads: 2 });
  const ref = await ortSession(bytes);
  try {
    const clients = await Promise.all([FheClient.create(pool.descriptor), FheClient.create(pool.descriptor)]);
    const sessions = await Promise.all(clients.map((c) => pool.openSession(c.keygen())));
    const xs = [randomInput(16, 1), randomInput(16, 2)];
    const outs = await Promise.all(sessions.map((s, i) => s.evaluate(clients[i].encryptInput(xs[i]))));
    for (let i = 0; i < 2; i++) {
      assert.ok(relMaxError(clients[i].decryptOutput(outs[i]), await ref.run(xs[i])) <= 1e-3);
    }
    const keys = clients[0].keygen();
    await assert.rejects(pool.openSession({ ...keys, galoisKeys: keys.galoisKeys.slice(0, 100) }), KeysInvalidError);
    sessions.forEach((s) => s.close());
    clients.forEach((c) => c.dispose());
  } finally {
    await ref.release();
    await pool.dispose();
  }
  await assert.rejects(WorkerPoolEvaluator.create(randomMlp({ dims: [4, 4, 4, 4] }).bytes, { params: "n8192-l3" }),
    LevelBudgetError);
});

test("worker pool: a worker that dies is replaced; its sessions end with WorkerLostError, the others carry on", async () => {
  const { bytes } = randomMlp({ dims: [16, 16, 10], seed: 32 });
  const pool = await WorkerPoolEvaluator.create(bytes, {}, { threads: 2 });
  const ref = await ortSession(bytes);
  try {
    const clients = await Promise.all([FheClient.create(pool.descriptor), FheClient.create(pool.descriptor)]);
    const [a, b] = await Promise.all(clients.map((c) => pool.openSession(c.keygen())));
    assert.deepEqual(liveCounts(pool.stats()), { threads: 2, live: 2, replaced: 0 });
    // Kill the worker that holds session a (sessions go to the least-loaded worker: a → 0, b → 1), mid-evaluation.
    const workers = (pool as unknown as { workers: { worker: Worker }[] }).workers;
    const inFlight = a.evaluate(clients[0].encryptInput(randomInput(16, 3)));
    await workers[0].worker.terminate();
    await assert.rejects(inFlight, (e: unknown) => e instanceof WorkerLostError && e.code === "FHE_WORKER_LOST");
    await assert.rejects(a.evaluate(clients[0].encryptInput(randomInput(16, 3))), WorkerLostError);
    assert.equal(a.closed, true);
    const x = randomInput(16, 4);
    assert.ok(relMaxError(clients[1].decryptOutput(await b.evaluate(clients[1].encryptInput(x))), await ref.run(x)) <= 1e-3);
    await pool.settled();
    assert.deepEqual(liveCounts(pool.stats()), { threads: 2, live: 2, replaced: 1 });
    // The replacement serves new sessions.
    const c = await pool.openSession(clients[0].keygen());
    const again = await pool.openSession(clients[0].keygen());
    for (const s of [c, again]) {
      assert.ok(relMaxError(clients[0].decryptOutput(await s.evaluate(clients[0].encryptInput(x))), await ref.run(x)) <= 1e-3);
      s.close();
    }
    b.close();
    clients.forEach((cl) => cl.dispose());
  } finally {
    await ref.release();
    await pool.dispose();
  }
});

/** The worker counts of PoolStats (the queue and split counters are checked where they matter). */
function liveCounts(s: { threads: number; live: number; replaced: number }) {
  return { threads: s.threads, live: s.live, replaced: s.replaced };
}
