import "../../../nodes/core/polyfills.ts";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { FailoverSession } from "../../../nodes/client/failover.ts";
import { chooseMiners } from "../../../nodes/client/selection.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { RemoteError } from "../../../nodes/net/errors.ts";
import { FrameReader, readMessage, writeMessage } from "../../../nodes/net/framing.ts";
import { DEFAULT_LIMITS, HEALTH_PROTOCOL, HealthRequestHeader, PROTOCOL_VERSION } from "../../../nodes/net/messages.ts";
import { createCerberusNode } from "../../../nodes/net/node.ts";
import { netSuite } from "./fixtures/harness.ts";
import { SealTestEvaluator, TEST_PLAN_ID, randomInput } from "./fixtures/seal-evaluator.ts";
import { scaled, slowdown } from "../calibration.ts";

/**
 * Backpressure users can see (issue 14): a saturated miner says BUSY at the header with the wait it expects, health
 * states the queue, clients queue for short stated waits, move on from long ones, and pick the less loaded miner.
 * Real libp2p on 127.0.0.1, real SEAL ciphertexts (the test evaluator's delay stands in for a long evaluation).
 */
describe("backpressure: BUSY with a stated wait, queue health, failover and selection", () => {
  const net = netSuite();
  const client = async () => new InferClient(await net.clientNode());
  const miner = net.miner;

  test("a saturated miner answers BUSY within milliseconds, stating the wait its queue implies; health reports the queue", async () => {
    // one worker, 1.5 s per step, room for 2 admitted requests
    const m = await miner({ evaluator: new SealTestEvaluator({ delayMs: 1_500 }), workers: 1, maxInflight: 2, stepMsHint: 1_500,
      maxInflightPerPeer: 8, maxInflightPerAddress: 8 });
    const c = await client();
    const sessions = await Promise.all([0, 1, 2].map(() => c.openSession(m.address, net.keys)));
    const ct = net.ckks.encrypt(randomInput(3));
    const running = sessions.slice(0, 2).map((s) => s.step([ct]));
    await new Promise((r) => setTimeout(r, 200)); // both admitted: one evaluating, one queued
    const h = await c.health(m.address);
    assert.deepEqual({ depth: h.queue.depth, workers: h.queue.workers, expectedWaitMs: h.queue.expectedWaitMs },
      { depth: 2, workers: 1, expectedWaitMs: 3_000 }, JSON.stringify(h.queue));
    const slow = slowdown();
    const t0 = performance.now();
    await assert.rejects(sessions[2]!.step([ct]), (e: unknown) => {
      assert.ok(e instanceof RemoteError && e.code === "BUSY", String(e));
      // room again once one of the two ahead finished: one step time
      assert.ok(e.retryAfterMs !== undefined && e.retryAfterMs >= 1_000 && e.retryAfterMs <= 3_000, `retryAfterMs ${e.retryAfterMs}`);
      return true;
    });
    const busyMs = performance.now() - t0;
    // BUSY comes at the header, not after the queue: far less than the 1.5 s step (limits scale with the machine's load).
    assert.ok(busyMs < Math.min(1_400, scaled(500, slow)), `BUSY took ${busyMs.toFixed(0)} ms (a step takes 1,500)`);
    await Promise.all(running);
    const after = await c.health(m.address);
    assert.equal(after.queue.depth, 0);
    assert.equal(after.queue.recentSteps, 2);
    const longest = 1_500 + scaled(2_500, slow);
    assert.ok(after.queue.recentStepMs >= 1_400 && after.queue.recentStepMs < longest, `recentStepMs ${after.queue.recentStepMs}`);
    assert.equal(after.queue.expectedWaitMs, 0);
    for (const s of sessions) await s.close();
  });

  test("a miner whose expected wait exceeds its maxQueueWaitMs refuses BUSY even below its request cap", async () => {
    const m = await miner({ evaluator: new SealTestEvaluator({ delayMs: 1_200 }), workers: 1, maxInflight: 8, stepMsHint: 1_000,
      maxQueueWaitMs: 1_500, maxInflightPerPeer: 8, maxInflightPerAddress: 8 });
    const c = await client();
    const s = await c.openSession(m.address, net.keys);
    const ct = net.ckks.encrypt(randomInput(4));
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => new Promise((r) => setTimeout(r, 50 * i)).then(() => s.step([ct]))));
    // ahead 0 → 0 ms, 1 → 1 s, 2 → 2 s > 1.5 s: the third and fourth are refused
    assert.deepEqual(results.map((r) => (r.status === "fulfilled" ? "OK" : isCerberusError(r.reason) ? r.reason.code : "?")),
      ["OK", "OK", "BUSY", "BUSY"]);
    await s.close();
  });

  test("a client queues on a short stated wait and moves on from a long one; both complete, nothing times out", async () => {
    const slow = await miner({ evaluator: new SealTestEvaluator({ delayMs: 1_500 }), workers: 1, maxInflight: 1, stepMsHint: 1_500,
      maxInflightPerPeer: 8, maxInflightPerAddress: 8 });
    const free = await miner();
    const hog = await client();
    const hogSession = await hog.openSession(slow.address, net.keys);
    const ct = net.ckks.encrypt(randomInput(5));
    const expected = net.ckks.check(randomInput(5), (await (await (await client()).openSession(free.address, net.keys)).step([ct])).outputs);
    assert.ok(expected.rotErr < 1e-3);

    // short stated wait (≤ maxBusyWaitMs): wait it out on the same miner, no second key upload
    const hogging = hogSession.step([ct]);
    await new Promise((r) => setTimeout(r, 100));
    const waits: number[] = [];
    const queued = new FailoverSession(await client(), [slow.address, free.address], net.keys, { onBusy: (e) => waits.push(e.waitMs) });
    const t0 = performance.now();
    const r1 = await queued.step([ct]);
    assert.equal(r1.miner.peerId, slow.address.peerId, "stayed in the queue of the miner it chose");
    assert.ok(waits.length >= 1 && waits[0]! >= 1_000, `waited ${JSON.stringify(waits)}`);
    assert.equal(queued.stats.failovers, 0);
    assert.ok(performance.now() - t0 < 10_000);
    await hogging;
    await queued.close();

    // long stated wait (> maxBusyWaitMs): move on to the next miner at once, where the step completes
    const hogging2 = hogSession.step([ct]);
    await new Promise((r) => setTimeout(r, 100));
    const moved = new FailoverSession(await client(), [slow.address, free.address], net.keys, { maxBusyWaitMs: 500 });
    const t1 = performance.now();
    const r2 = await moved.step([ct]);
    assert.equal(r2.miner.peerId, free.address.peerId);
    assert.equal(moved.stats.failovers, 1);
    assert.equal(moved.failures[0]!.code, "BUSY");
    assert.ok(performance.now() - t1 < 1_400, "moved on without waiting for the slow miner's step");
    assert.ok(net.ckks.check(randomInput(5), r2.outputs).rotErr < 1e-3);
    await hogging2;
    await moved.close();

    // only a busy miner and a long stated wait: a typed ALL_MINERS_FAILED naming BUSY, never a silent timeout
    const hogging3 = hogSession.step([ct]);
    await new Promise((r) => setTimeout(r, 100));
    const alone = new FailoverSession(await client(), [slow.address], net.keys, { maxBusyWaitMs: 500 });
    await assert.rejects(alone.step([ct]), (e: unknown) => isCerberusError(e, "ALL_MINERS_FAILED") &&
      (e as unknown as { attempts: { code: string }[] }).attempts.every((a) => a.code === "BUSY"));
    await hogging3;
    await hogSession.close();
  });

  test("selection prefers the less loaded miner (and, at equal load, the one with more incentive)", async () => {
    const loaded = await miner({ evaluator: new SealTestEvaluator({ delayMs: 2_000 }), workers: 1, stepMsHint: 2_000 });
    const idle = await miner({ evaluator: new SealTestEvaluator(), workers: 1, stepMsHint: 2_000 });
    const c = await client();
    const s = await c.openSession(loaded.address, net.keys);
    const busy = s.step([net.ckks.encrypt(randomInput(6))]);
    await new Promise((r) => setTimeout(r, 150));
    const user = await client();
    for (let seed = 1; seed <= 5; seed++) {
      const choice = await chooseMiners(user, [loaded.address, idle.address], { planId: TEST_PLAN_ID, random: createRng(seed).next });
      assert.equal(choice.order[0]!.peerId, idle.address.peerId, `seed ${seed}: ${JSON.stringify([...choice.health.values()].map((h) => (h as { queue?: unknown }).queue))}`);
    }
    await busy;
    // both idle now: incentive decides (0.2 vs 1)
    const choice = await chooseMiners(user, [{ ...loaded.address, incentive: 0.2 }, { ...idle.address, incentive: 1 }],
      { planId: TEST_PLAN_ID, random: createRng(9).next });
    assert.equal(choice.order[0]!.peerId, idle.address.peerId);
    // a miner of another plan is unfit: tried last, or not at all with unfit "drop"
    const dropped = await chooseMiners(user, [loaded.address], { planId: "ab".repeat(32), policy: { unfit: "drop" } });
    assert.deepEqual(dropped.order, []);
    assert.equal(dropped.unfit.get(loaded.address.peerId), "serves another plan");
    await s.close();
  });

  test("malformed health is rejected with a typed error, and such a miner is unfit", async () => {
    const liar = net.track(await createCerberusNode());
    const reports: Record<string, unknown>[] = [
      { v: PROTOCOL_VERSION, type: "health-report", planId: TEST_PLAN_ID, protocols: [], software: "x", uptimeMs: 1,
        load: { sessions: 0, maxSessions: 1, inflight: 0, maxInflight: 1 } }, // no queue
      { v: PROTOCOL_VERSION, type: "health-report", planId: TEST_PLAN_ID, protocols: [], software: "x", uptimeMs: 1,
        load: { sessions: 0, maxSessions: 1, inflight: 0, maxInflight: 1 },
        queue: { depth: -1, workers: 1, recentStepMs: 0, recentSteps: 0, expectedWaitMs: 0 } }, // negative depth
      { v: PROTOCOL_VERSION, type: "health-report", planId: TEST_PLAN_ID, protocols: [], software: "x", uptimeMs: 1,
        load: { sessions: 0, maxSessions: 1, inflight: 0, maxInflight: 1 },
        queue: { depth: 0, workers: 1, recentStepMs: 0, recentSteps: 0, expectedWaitMs: 1e12 } }, // absurd wait
    ];
    let next = 0;
    await liar.handle(HEALTH_PROTOCOL, async (stream) => {
      const req = await readMessage(new FrameReader(stream), DEFAULT_LIMITS, HealthRequestHeader);
      assert.ok(req !== undefined);
      await writeMessage(stream, reports[next++ % reports.length] as never);
      await stream.close();
    });
    const address = { peerId: liar.peerId.toString(), multiaddrs: liar.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()) };
    const c = await client();
    for (let i = 0; i < reports.length; i++) {
      await assert.rejects(c.health(address), (e: unknown) => isCerberusError(e, "PROTOCOL_VIOLATION"), `report ${i}`);
    }
    const honest = await miner();
    const choice = await chooseMiners(c, [address, honest.address], { planId: TEST_PLAN_ID, random: createRng(1).next });
    assert.deepEqual(choice.order.map((m) => m.peerId), [honest.address.peerId, address.peerId]);
    assert.match(choice.unfit.get(address.peerId)!, /PROTOCOL_VIOLATION/);
  });
});
