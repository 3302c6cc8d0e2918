import { test } from "node:test";
import assert from "node:assert/strict";
import { loadBrainModel, mlpModel } from "../../../nodes/client/brain-model.ts";
import { FheClient, WorkerPoolEvaluator } from "../../../nodes/fhe/index.ts";
import { MAX_DEFAULT_SESSIONS, MIN_DEFAULT_SESSIONS, sessionBudget } from "../../../nodes/miner/session-budget.ts";

const GiB = 2 ** 30;

/**
 * Threat: fill a miner's session table with sessions whose keys it must hold in every FHE worker (≈ 24 MiB per
 * worker each for the shipped plan). With a constant cap of 64 that is ≈ 3 GiB on a 2-worker miner whatever the
 * machine; the default cap now comes from the machine's memory (a quarter of it), so a full table fits.
 */
test("the default session cap fits a quarter of the machine's memory, and the per-session estimate bounds real key memory", async () => {
  const model = mlpModel(loadBrainModel({ dir: "models", name: "brown-lm" }));
  const caps = model.descriptor.caps;
  const small = sessionBudget(caps, 2, 4 * GiB);
  assert.ok(small.maxSessions * small.perSessionBytes <= GiB, "a full table of a 4 GiB, 2-worker miner holds ≤ 1 GiB of keys");
  assert.ok(small.maxSessions < MAX_DEFAULT_SESSIONS && small.maxSessions >= MIN_DEFAULT_SESSIONS);
  assert.equal(sessionBudget(caps, 2, 64 * GiB).maxSessions, MAX_DEFAULT_SESSIONS);
  assert.equal(sessionBudget(caps, 2, GiB / 8).maxSessions, MIN_DEFAULT_SESSIONS);
  assert.ok(sessionBudget(caps, 1, 4 * GiB).maxSessions > small.maxSessions, "one worker holds each key set once");

  // The estimate must not undercount: open sessions on a real 2-worker pool and compare the resident growth.
  const pool = await WorkerPoolEvaluator.create(model.onnxBytes, model.planOptions, { threads: 2 });
  const fhe = await FheClient.create(pool.descriptor);
  try {
    const keys = fhe.keygen();
    const warm = await pool.openSession(keys); // first-use allocations (pools, memory pages) out of the measurement
    const before = process.memoryUsage.rss();
    const sessions = [];
    for (let i = 0; i < 8; i++) sessions.push(await pool.openSession(keys));
    const perSession = (process.memoryUsage.rss() - before) / 8;
    const estimate = sessionBudget(caps, 2, 4 * GiB).perSessionBytes;
    assert.ok(perSession > estimate / 4, `sessions do hold their keys: ${(perSession / 2 ** 20).toFixed(1)} MiB each`);
    assert.ok(perSession <= estimate, `measured ${(perSession / 2 ** 20).toFixed(1)} MiB per session, estimate ${(estimate / 2 ** 20).toFixed(1)} MiB`);
    for (const s of [warm, ...sessions]) s.close();
  } finally {
    fhe.dispose();
    await pool.dispose();
  }
});
