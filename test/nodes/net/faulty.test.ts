import "../../../nodes/core/polyfills.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { InferClient } from "../../../nodes/client/transport.ts";
import { FaultyEvaluator, defaultCorruption } from "../../../nodes/miner/faulty.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { startClientNode, startMiner, type TestMiner } from "./fixtures/harness.ts";
import { SealTestEvaluator, TestCkksClient, randomInput } from "./fixtures/seal-evaluator.ts";

/** A deterministic random source (LCG) so the faulty fraction is reproducible. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe("FaultyEvaluator (--faulty-rate, demos and tests only)", () => {
  let ckks: TestCkksClient;
  let node: CerberusNode;
  const miners: TestMiner[] = [];
  before(async () => {
    ckks = await TestCkksClient.create();
    node = await startClientNode();
  });
  after(async () => {
    ckks.delete();
    await node.stop();
    for (const m of miners) await m.stop();
  });

  test("rate p corrupts exactly the steps its random source picks; wrong answers still look like answers", async () => {
    const random = seeded(42);
    const expectedPicks = Array.from({ length: 20 }, seeded(42)).map((r) => r < 0.5);
    const faulty = new FaultyEvaluator(new SealTestEvaluator(), { rate: 0.5, random });
    const miner = await startMiner({ evaluator: faulty });
    miners.push(miner);
    const s = await new InferClient(node).openSession(miner.address, ckks.sessionKeys());
    const honestSizes = new Set<string>();
    const verdicts: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const x = randomInput(200 + i);
      const r = await s.step([ckks.encrypt(x)]);
      honestSizes.add(r.outputs.map((o) => o.byteLength).join(","));
      const err = ckks.check(x, r.outputs); // the outputs still load and decrypt: a plausible wrong answer
      verdicts.push(err.rotErr > 1e-2 || err.sqErr > 1e-2);
    }
    await s.close();
    assert.deepEqual(verdicts, expectedPicks, "wrong exactly when picked");
    assert.equal(faulty.corrupted, expectedPicks.filter(Boolean).length);
    assert.equal(faulty.served, 20);
    assert.ok(faulty.corrupted > 3 && faulty.corrupted < 17);
    assert.equal(honestSizes.size, 1, "corrupted replies have the same sizes as honest ones");
  });

  test("rate 0 is honest, rate 1 is always wrong; rates outside [0, 1] are refused", async () => {
    for (const rate of [0, 1]) {
      const miner = await startMiner({ evaluator: new FaultyEvaluator(new SealTestEvaluator(), { rate }) });
      miners.push(miner);
      const s = await new InferClient(node).openSession(miner.address, ckks.sessionKeys());
      for (let i = 0; i < 3; i++) {
        const x = randomInput(300 + i);
        const err = ckks.check(x, (await s.step([ckks.encrypt(x)])).outputs);
        assert.equal(err.rotErr > 1e-2, rate === 1, `rate ${rate}: ${JSON.stringify(err)}`);
      }
      await s.close();
    }
    assert.throws(() => new FaultyEvaluator(new SealTestEvaluator(), { rate: 1.5 }), RangeError);
    assert.throws(() => new FaultyEvaluator(new SealTestEvaluator(), { rate: Number.NaN }), RangeError);
  });

  test("default corruption: rotate several outputs, else replay the previous answer, else flip bits", () => {
    const a = Uint8Array.of(1, 2), b = Uint8Array.of(3, 4), p = Uint8Array.of(9, 9);
    assert.deepEqual(defaultCorruption([a, b], undefined), [b, a]);
    assert.deepEqual(defaultCorruption([a], [p]), [p]);
    assert.deepEqual(defaultCorruption([a], undefined), [Uint8Array.of(1, 2 ^ 0xff)]);
    assert.deepEqual(a, Uint8Array.of(1, 2), "the honest output is not mutated");
  });
});
