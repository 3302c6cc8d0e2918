import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Worker } from "node:worker_threads";
import { InferClient } from "../../../nodes/client/transport.ts";
import { FheClient, WorkerPoolEvaluator } from "../../../nodes/fhe/index.ts";
import { randomMlp } from "../../../nodes/fhe/random-model.ts";
import { RemoteError } from "../../../nodes/net/errors.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { startClientNode, startMiner, type TestMiner } from "./fixtures/harness.ts";

describe("a miner whose FHE worker thread dies", () => {
  let pool: WorkerPoolEvaluator;
  let miner: TestMiner;
  let userNode: CerberusNode;
  let fhe: FheClient;

  before(async () => {
    pool = await WorkerPoolEvaluator.create(randomMlp({ dims: [16, 16, 10], seed: 41 }).bytes, {}, { threads: 1 });
    miner = await startMiner({ evaluator: pool });
    userNode = await startClientNode();
    fhe = await FheClient.create(pool.descriptor);
  });
  after(async () => {
    fhe.dispose();
    await userNode.stop();
    await miner.stop();
    await pool.dispose();
  });

  test("the session's next step is UNKNOWN_SESSION; a new session on the same miner works once the worker is replaced", async () => {
    const client = new InferClient(userNode, { stepTimeoutMs: 20_000 });
    const x = Float64Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const s = await client.openSession(miner.address, fhe.keygen());
    const before = fhe.decryptOutput((await s.step(fhe.encryptInput(x))).outputs);

    await (pool as unknown as { workers: { worker: Worker }[] }).workers[0]!.worker.terminate();
    await assert.rejects(s.step(fhe.encryptInput(x)), (err: unknown) => {
      assert.ok(err instanceof RemoteError, String(err));
      assert.equal(err.code, "UNKNOWN_SESSION");
      return true;
    });

    const again = await client.openSession(miner.address, fhe.keygen());
    const after = fhe.decryptOutput((await again.step(fhe.encryptInput(x))).outputs);
    for (let i = 0; i < before.length; i++) assert.ok(Math.abs(after[i]! - before[i]!) < 1e-3, `output ${i}`);
    assert.deepEqual(liveCounts(pool.stats()), { threads: 1, live: 1, replaced: 1 });
    await again.close();
  });
});

/** The worker counts of PoolStats (the queue and split counters are checked where they matter). */
function liveCounts(s: { threads: number; live: number; replaced: number }) {
  return { threads: s.threads, live: s.live, replaced: s.replaced };
}
