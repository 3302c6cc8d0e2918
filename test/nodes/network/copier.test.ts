import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address } from "viem";
import { ChainRevertError } from "../../../nodes/chain/errors.ts";
import { MinerEvaluator } from "../../../nodes/fhe/index.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
// Every user and probe of the test dials from 127.0.0.1: the per-address connection caps are lifted, as in the benches.
import { ONE_HOST_NODE_LIMITS } from "../../../nodes/miner/one-host.ts";
import { MinerService } from "../../../nodes/miner/service.ts";
import { createCerberusNode, type CerberusNode } from "../../../nodes/net/node.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { validationWords } from "../../../nodes/validator/challenge.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import type { MinerEvaluator as NetEvaluator } from "../../../nodes/net/evaluator.ts";
import { sealBomb } from "../fhe/bombs.ts";
import { COMPRESSED_WORKLOAD } from "../../../nodes/client/workload.ts";
import { mineTo, mineToNextEpoch, tinyBrain } from "./fixtures.ts";

test("a peer-id copier (a seat whose peer id answers for another hotkey) and a miner answering with bombs score zero and earn nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-copier-"));
  const log = createLogger("test", "warn");
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const { model, accounts, as, owner, brainId } = await tinyBrain(dir, log);
    const [, mA, mB, mX, vAddr, mBomb] = accounts as [Address, Address, Address, Address, Address, Address];

    const start = async (addr: Address, k: number) => {
      const m = await MinerAgent.start({ node: ONE_HOST_NODE_LIMITS, chain: as(addr), brainId, modelDir: dir, modelName: "tiny-lm",
        dataDir: join(dir, `miner-${k}`), logger: log });
      stops.push(() => m.stop());
      return m;
    };
    const honestA = await start(mA, 0);
    const honestB = await start(mB, 1);

    // The copier: hotkey X registers honest A's peer id and addresses, and runs no miner of its own.
    const brain = await owner.brain(brainId);
    const seatA = brain.miners.find((m) => m.uid === honestA.uid)!;
    let copierUid: number;
    let variant: string;
    try {
      copierUid = await as(mX).register(brainId, "Miner", { peerId: seatA.peerId, multiaddrs: seatA.multiaddrs });
      variant = "X registered A's peer id";
    } catch (err) {
      // NeuronRegistry refuses a peer id another hotkey holds in the Brain: then the off-chain half is exercised by
      // a miner of X's own that states A's hotkey (what a copier proxying to A would have to do).
      if (!(err instanceof ChainRevertError)) throw err;
      const ev = await MinerEvaluator.create(model.onnxBytes, model.planOptions);
      const node: CerberusNode = await createCerberusNode();
      const liar = new MinerService(node, { evaluator: ev, hotkey: mA, logger: log });
      await liar.start();
      stops.push(async () => { await liar.stop(); await node.stop(); ev.dispose(); });
      copierUid = await as(mX).register(brainId, "Miner", {
        peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()),
      });
      variant = `chain refused the duplicate (${err.errorName}); X's own miner states A's hotkey`;
    }

    // And a miner of its own hotkey that answers every step with decompression bombs (1 GiB each, 32 KiB on the wire).
    const bombEv = await MinerEvaluator.create(model.onnxBytes, model.planOptions);
    const bombs = Array.from({ length: bombEv.descriptor.outputBlocks }, () => sealBomb("ciphertext"));
    const bomber: NetEvaluator = {
      planId: bombEv.planId,
      async openSession(keys) {
        const real = await bombEv.openSession(keys);
        return { evaluate: async () => bombs, close: () => real.close() };
      },
    };
    const bombNode: CerberusNode = await createCerberusNode();
    const bombService = new MinerService(bombNode, { evaluator: bomber, hotkey: mBomb, logger: log });
    await bombService.start();
    stops.push(async () => { await bombService.stop(); await bombNode.stop(); bombEv.dispose(); });
    const bomberUid = await as(mBomb).register(brainId, "Miner", {
      peerId: bombNode.peerId.toString(), multiaddrs: bombNode.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()),
    });

    let seed = 5;
    const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
    const validator = await ValidatorAgent.start({ chain: as(vAddr), brainId, heldOut: validationWords(), modelDir: dir,
      modelName: "tiny-lm", dataDir: join(dir, "validator"), challengesPerMiner: 3, random, logger: log,
      workload: COMPRESSED_WORKLOAD, probeWindowMs: 4_000 });
    stops.push(() => validator.stop());
    await mineToNextEpoch(owner, brainId);
    const committed = await validator.scoreAndCommit();
    assert.ok(committed !== undefined);
    const scoreOf = (uid: number) => committed.scores.find((s) => s.uid === uid)!;
    for (const uid of [honestA.uid, honestB.uid]) {
      const sc = scoreOf(uid);
      // No wrong answer, and a share of its seat's probes answered (a step may still time out on a loaded machine:
      // no answer is soft, a wrong one would zero it).
      assert.ok(sc.wrong === 0 && sc.correct > 0 && sc.score > 0, `honest miner ${uid} answers its own seat's probes: ${JSON.stringify(sc)}`);
    }
    assert.equal(scoreOf(copierUid).answered, 0, `${variant}: the copier's seat answered nothing`);
    assert.equal(scoreOf(copierUid).score, 0);
    assert.ok(!committed.uids.includes(copierUid), "the copier gets no weight");
    assert.equal(scoreOf(bomberUid).answered, 0, "bombs are unanswered challenges");
    assert.ok(!committed.uids.includes(bomberUid), "the bomber gets no weight");

    const w = await owner.windows(brainId, committed.epoch);
    await mineTo(owner, w.revealFrom);
    assert.deepEqual(await validator.revealDue(), [committed.epoch]);
    await mineTo(owner, w.revealTo);
    assert.equal(await validator.settle(committed.epoch), true);
    const after = await owner.brain(brainId);
    const incentive = (uid: number) => after.miners.find((x) => x.uid === uid)!.incentiveRaw;
    assert.equal(incentive(copierUid), 0, "the copier earns nothing");
    assert.equal(incentive(bomberUid), 0, "the bomber earns nothing");
    assert.ok(incentive(honestA.uid) > 0 && incentive(honestB.uid) > 0, "the honest miners are paid");
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
