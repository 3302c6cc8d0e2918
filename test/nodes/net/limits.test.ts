import "../../../nodes/core/polyfills.ts";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { FailoverSession } from "../../../nodes/client/failover.ts";
import { InferClient, type RemoteSession } from "../../../nodes/client/transport.ts";
import { codeOf, netSuite, tally } from "./fixtures/harness.ts";
import { SealTestEvaluator, randomInput } from "./fixtures/seal-evaluator.ts";

describe("session and concurrency limits", () => {
  const net = netSuite();
  const clientNode = () => net.clientNode();

  test("a client opening 100 sessions (sequentially, then concurrently): limits hold, errors are typed, no crash", async () => {
    const evaluator = new SealTestEvaluator();
    const miner = await net.miner({ evaluator, maxSessions: 10, maxSessionsPerPeer: 4, maxInflightPerPeer: 2, maxInflight: 4 });

    const a = new InferClient(await clientNode());
    const sequential: PromiseSettledResult<RemoteSession>[] = [];
    for (let i = 0; i < 100; i++) sequential.push(...await Promise.allSettled([a.openSession(miner.address, net.keys)]));
    assert.deepEqual(tally(sequential.map(codeOf)), { OK: 4, SESSION_LIMIT: 96 });

    const b = new InferClient(await clientNode());
    const concurrent = await Promise.allSettled(Array.from({ length: 100 }, () => b.openSession(miner.address, net.keys)));
    const t = tally(concurrent.map(codeOf));
    assert.ok((t.OK ?? 0) >= 1 && (t.OK ?? 0) <= 4, JSON.stringify(t));
    for (const code of Object.keys(t)) assert.ok(["OK", "SESSION_LIMIT", "BUSY"].includes(code), JSON.stringify(t));
    assert.ok(miner.service.load.sessions <= 8);

    // fill the miner to its total cap from more peers; then even a fresh peer is refused
    let opened = miner.service.load.sessions;
    while (opened < 10) {
      const c = new InferClient(await clientNode());
      for (let i = 0; i < 4 && opened < 10; i++, opened++) await c.openSession(miner.address, net.keys);
    }
    assert.equal(miner.service.load.sessions, 10);
    assert.equal(evaluator.openSessions, 10, "the evaluator holds exactly the admitted sessions");
    const late = new InferClient(await clientNode());
    await assert.rejects(late.openSession(miner.address, net.keys), (e: unknown) => isCerberusError(e, "SESSION_LIMIT"));

    // the admitted sessions still work, and closing one frees a slot for the newcomer
    const first = sequential[0] as PromiseFulfilledResult<RemoteSession>;
    const x = randomInput(5);
    const r = await first.value.step([net.ckks.encrypt(x)]);
    assert.ok(net.ckks.check(x, r.outputs).rotErr < 1e-3);
    await first.value.close();
    const s = await late.openSession(miner.address, net.keys);
    await s.step([net.ckks.encrypt(x)]);
    const health = await late.health(miner.address);
    assert.equal(health.load.sessions, 10);
    assert.equal(health.load.inflight, 0);
  });

  test("per-peer concurrency: excess in-flight steps get BUSY with a retry hint; other peers are still served", async () => {
    const miner = await net.miner({
      evaluator: new SealTestEvaluator({ delayMs: 1_500 }), maxInflightPerPeer: 1, maxInflight: 8,
    });
    const busyPeer = new InferClient(await clientNode());
    const s = await busyPeer.openSession(miner.address, net.keys);
    const ct = net.ckks.encrypt(randomInput(9));
    const calm = new InferClient(await clientNode());
    const other = await calm.openSession(miner.address, net.keys);
    const [burst, otherStep] = await Promise.all([
      Promise.allSettled([s.step([ct]), s.step([ct]), s.step([ct])]),
      // started a little later, while the burst's first step is evaluating
      new Promise((r) => setTimeout(r, 100)).then(() => other.step([ct])),
    ]);
    assert.deepEqual(tally(burst.map(codeOf)), { OK: 1, BUSY: 2 });
    assert.equal(otherStep.outputs.length, 2);
    const busyEvent = miner.events.find((e) => e.outcome === "BUSY");
    assert.ok(busyEvent !== undefined);
    await s.close();
    await other.close();

    // the failover helper waits out a BUSY on the same miner instead of re-uploading net.keys elsewhere
    const fo = new FailoverSession(busyPeer, [miner.address], net.keys); // the stated wait is short: queue there
    await fo.open();
    const both = await Promise.all([fo.step([ct]), fo.step([ct])]);
    assert.ok(both.every((r) => r.miner.peerId === miner.address.peerId && r.outputs.length === 2));
    assert.equal(fo.stats.failovers, 0);
    assert.equal(fo.stats.sessionsOpened, 1);
    await fo.close();
  });

  test("an evaluation that overruns the miner's limit is answered EVAL_FAILED and frees its request slot", async () => {
    const evaluator = new SealTestEvaluator({ delayMs: 3_000 });
    const miner = await net.miner({ evaluator, evaluationTimeoutMs: 300 });
    const s = await new InferClient(await clientNode()).openSession(miner.address, net.keys);
    const t0 = performance.now();
    await assert.rejects(s.step([net.ckks.encrypt(randomInput(4))]), (e: unknown) => isCerberusError(e, "EVAL_FAILED"));
    assert.ok(performance.now() - t0 < 2_500, "answered before the evaluation finished");
    assert.equal(miner.service.load.inflight, 0);
    await s.close(); // removed while the evaluation still runs: its net.keys are freed only when it returns
    assert.equal(evaluator.openSessions, 1);
    await new Promise((r) => setTimeout(r, 3_200));
    assert.equal(evaluator.openSessions, 0);
  });

  test("sessions expire after their idle TTL: net.keys are freed and a late step gets UNKNOWN_SESSION", async () => {
    const evaluator = new SealTestEvaluator();
    const miner = await net.miner({ evaluator, sessionIdleTtlMs: 1_000 });
    const client = new InferClient(await clientNode());
    const s = await client.openSession(miner.address, net.keys);
    assert.equal(s.idleTtlMs, 1_000);
    const x = randomInput(3);
    await s.step([net.ckks.encrypt(x)]);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(miner.service.load.sessions, 0, "the sweeper dropped the idle session");
    assert.equal(evaluator.openSessions, 0, "its net.keys were freed");
    await assert.rejects(s.step([net.ckks.encrypt(x)]), (e: unknown) => isCerberusError(e, "UNKNOWN_SESSION"));

    // the failover helper treats UNKNOWN_SESSION as "re-upload the net.keys to the same miner"
    const fo = new FailoverSession(client, [miner.address], net.keys);
    await fo.step([net.ckks.encrypt(x)]);
    await new Promise((r) => setTimeout(r, 2_000));
    const r = await fo.step([net.ckks.encrypt(x)]);
    assert.equal(r.miner.peerId, miner.address.peerId);
    assert.equal(fo.stats.sessionsOpened, 2);
    assert.equal(fo.stats.failovers, 0);
    assert.ok(net.ckks.check(x, r.outputs).sqErr < 1e-3);
    await fo.close();
  });
});
