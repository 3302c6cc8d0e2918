import { test } from "node:test";
import assert from "node:assert/strict";
import { FheClient, KeysInvalidError, LevelBudgetError, WorkerPoolEvaluator } from "../../../nodes/fhe/index.ts";
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
