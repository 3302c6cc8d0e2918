import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import { FailoverSession, type FailoverEvent } from "../../../nodes/client/failover.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { spawnChildMiner, startClientNode, startMiner, type ChildMiner, type TestMiner } from "./fixtures/harness.ts";
import { SealTestEvaluator, TestCkksClient, randomInput } from "./fixtures/seal-evaluator.ts";

describe("failover across miners", () => {
  let ckks: TestCkksClient;
  let node: CerberusNode;
  let healthy: TestMiner;
  const children: ChildMiner[] = [];
  const others: TestMiner[] = [];

  before(async () => {
    ckks = await TestCkksClient.create();
    node = await startClientNode();
    healthy = await startMiner();
  });
  after(async () => {
    ckks.delete();
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill("SIGKILL");
    await node.stop();
    await healthy.stop();
    for (const m of others) await m.stop();
  });

  test("a miner process killed mid-request: the client fails over and the step completes on the next miner", async () => {
    const doomed = await spawnChildMiner({ KILL_ON_EVAL: "1" });
    children.push(doomed);
    const client = new InferClient(node, { stepTimeoutMs: 15_000 });
    const events: FailoverEvent[] = [];
    const fo = new FailoverSession(client, [doomed.address, healthy.address], ckks.sessionKeys(),
      { onFailover: (e) => events.push(e) });
    await fo.open();
    assert.equal(fo.current?.peerId, doomed.address.peerId, "the first miner accepted the session");

    // the caller's state: the text so far; the failover must not disturb it
    const text: number[] = [];
    for (let i = 0; i < 3; i++) {
      const x = randomInput(40 + i);
      const r = await fo.step([ckks.encrypt(x)]);
      const err = ckks.check(x, r.outputs);
      assert.ok(err.rotErr < 1e-3 && err.sqErr < 1e-3, JSON.stringify(err));
      assert.equal(r.miner.peerId, healthy.address.peerId);
      text.push(i);
    }
    assert.deepEqual(text, [0, 1, 2]);
    assert.equal(await doomed.exited, "SIGKILL", "the first miner really died inside evaluate");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.phase, "step");
    assert.equal(events[0]!.from.peerId, doomed.address.peerId);
    assert.equal(events[0]!.to?.peerId, healthy.address.peerId);
    assert.equal(events[0]!.error.code, "UNREACHABLE");
    assert.equal(fo.stats.failovers, 1);
    assert.equal(fo.stats.sessionsOpened, 2);
    assert.equal(fo.stats.steps, 3);
    await fo.close();
  });

  test("a miner that hangs: the step times out (typed TIMEOUT) and completes on the next miner", async () => {
    const slow = await startMiner({ evaluator: new SealTestEvaluator({ delayMs: 5_000 }) });
    others.push(slow);
    const client = new InferClient(node, { stepTimeoutMs: 600 });
    const events: FailoverEvent[] = [];
    const fo = new FailoverSession(client, [slow.address, healthy.address], ckks.sessionKeys(),
      { onFailover: (e) => events.push(e) });
    const x = randomInput(77);
    const t0 = performance.now();
    const r = await fo.step([ckks.encrypt(x)]);
    assert.ok(performance.now() - t0 < 4_000, "did not wait for the slow miner");
    assert.equal(r.miner.peerId, healthy.address.peerId);
    assert.ok(ckks.check(x, r.outputs).rotErr < 1e-3);
    assert.deepEqual(events.map((e) => e.error.code), ["TIMEOUT"]);
    await fo.close();
  });

  test("open refused (wrong plan, unreachable address) moves on; running out of miners is ALL_MINERS_FAILED", async () => {
    const otherPlan = await startMiner({
      evaluator: Object.assign(new SealTestEvaluator(), { planId: "ff".repeat(32) }),
    });
    others.push(otherPlan);
    // a miner that was registered and then went away: its port is closed now
    const gone = await startMiner();
    const dead = gone.address;
    await gone.stop();
    const client = new InferClient(node, { openTimeoutMs: 3_000 });
    const fo = new FailoverSession(client, [otherPlan.address, dead, healthy.address], ckks.sessionKeys());
    const x = randomInput(5);
    const r = await fo.step([ckks.encrypt(x)]);
    assert.equal(r.miner.peerId, healthy.address.peerId);
    assert.deepEqual(fo.failures.map((f) => f.code), ["PLAN_MISMATCH", "UNREACHABLE"]);
    await fo.close();

    const hopeless = new FailoverSession(client, [otherPlan.address, dead], ckks.sessionKeys());
    await assert.rejects(hopeless.step([ckks.encrypt(x)]), (e: unknown) => {
      assert.ok(isCerberusError(e, "ALL_MINERS_FAILED"));
      assert.equal((e as unknown as { attempts: unknown[] }).attempts.length, 2);
      return true;
    });
  });

  test("the caller's abort is not a miner failure: it stops at once, no failover", async () => {
    const slow = await startMiner({ evaluator: new SealTestEvaluator({ delayMs: 2_000 }) });
    others.push(slow);
    const client = new InferClient(node);
    const fo = new FailoverSession(client, [slow.address, healthy.address], ckks.sessionKeys());
    await fo.open();
    await assert.rejects(fo.step([ckks.encrypt(randomInput(1))], { signal: AbortSignal.timeout(300) }),
      (e: unknown) => isCerberusError(e, "ABORTED"));
    assert.equal(fo.stats.failovers, 0);
    assert.equal(fo.current?.peerId, slow.address.peerId);
    await fo.close();
  });
});
