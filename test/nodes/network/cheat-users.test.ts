import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address } from "viem";
import { FailoverSession } from "../../../nodes/client/failover.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { COMPRESSED_WORKLOAD, sampleRequest } from "../../../nodes/client/workload.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { FheClient } from "../../../nodes/fhe/index.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
// Every user and probe of the test dials from 127.0.0.1: the per-address connection caps are lifted, as in the benches.
import { ONE_HOST_NODE_LIMITS } from "../../../nodes/miner/one-host.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { compare, PlaintextReference, outcomesOf, probeSession, samplePrompt, validationWords } from "../../../nodes/validator/challenge.ts";
import { isCorrect, scoringFor } from "../../../nodes/validator/scoring.ts";
import { mineTo, mineToNextEpoch, tinyBrain } from "./fixtures.ts";

test("--cheat-users: a miner honest only to what it takes for probes earns less than every honest miner, and validators see the wrong answers users get", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-cheat-"));
  const log = createLogger("test", "warn");
  const miners: MinerAgent[] = [];
  let validator: ValidatorAgent | undefined;
  let reference: PlaintextReference | undefined;
  try {
    const { model, accounts, as, owner, brainId } = await tinyBrain(dir, log);
    const ref = reference = await PlaintextReference.create(model);
    const [, mA, mB, mC, vAddr] = accounts as [Address, Address, Address, Address, Address];
    for (const [k, addr] of [mA, mB, mC].entries()) {
      miners.push(await MinerAgent.start({ node: ONE_HOST_NODE_LIMITS, chain: as(addr), brainId, modelDir: dir, modelName: "tiny-lm",
        dataDir: join(dir, `miner-${k}`), cheatUsers: k === 2, logger: log }));
    }
    const [honestA, honestB, cheater] = miners as [MinerAgent, MinerAgent, MinerAgent];
    const heldOut = validationWords();
    const rng = createRng(5);
    validator = await ValidatorAgent.start({ chain: as(vAddr), brainId, heldOut, modelDir: dir, modelName: "tiny-lm",
      dataDir: join(dir, "validator"), challengesPerMiner: 4, probeWindowMs: 2_000,
      workload: COMPRESSED_WORKLOAD,
      random: rng.next, logger: log });
    const brain = await owner.brain(brainId);
    const seat = (m: MinerAgent) => brain.miners.find((x) => x.uid === m.uid)!;

    // The attack as it worked before issue 12: a request from the validator's registered identity is answered
    // honestly (so the cheater really does discriminate; it is not just a faulty miner).
    {
      const fhe = await FheClient.create(model.descriptor);
      const infer = new InferClient(validator.node);
      const session = new FailoverSession(infer, [seat(cheater)], fhe.keygen());
      const x = model.client.contextInput([1, 2]);
      const got = fhe.decryptOutput((await session.step(fhe.encryptInput(x))).outputs);
      assert.ok(isCorrect(compare(got, await ref.logits(x), model.client.vocab.size, 0), scoringFor(model.kind)),
        "the cheater answers the validator's registered identity honestly");
      await session.close();
      await infer.close();
      fhe.dispose();
    }

    // Users (each session from a fresh identity, as `cerberus generate`): the cheater serves them wrong answers.
    let userSteps = 0;
    let userWrong = 0;
    for (let k = 0; k < 3; k++) {
      const outcomes = outcomesOf(await probeSession({ model, reference: ref, miners: [seat(cheater)], prompt: samplePrompt(heldOut, 4, rng.next),
        words: sampleRequest(COMPRESSED_WORKLOAD, rng.next), workload: COMPRESSED_WORKLOAD }), seat(cheater).peerId);
      userSteps += outcomes.length;
      userWrong += outcomes.filter((o) => !isCorrect(o, scoringFor(model.kind))).length;
    }
    const userWrongRate = userWrong / userSteps;
    assert.ok(userWrongRate >= 0.9, `users got wrong answers from the cheater (${userWrong}/${userSteps})`);

    await mineToNextEpoch(owner, brainId);
    const committed = await validator.scoreAndCommit();
    assert.ok(committed !== undefined);
    const scoreOf = (m: MinerAgent) => committed.scores.find((s) => s.uid === m.uid)!;
    const seen = scoreOf(cheater);
    const validatorWrongRate = (seen.challenges - seen.correct) / seen.challenges;
    assert.ok(validatorWrongRate >= 0.9, `the validator saw the wrong answers too (${seen.challenges - seen.correct}/${seen.challenges})`);
    assert.ok(Math.abs(validatorWrongRate - userWrongRate) <= 0.1, `users ${userWrongRate} vs validator ${validatorWrongRate}`);
    assert.equal(cheater.cheater!.stats.probeSessions, 1, "only the registered identity's session was taken for a probe");
    // (an honest probe may still fail on a loaded test machine: BUSY or a timeout — not a wrong answer)
    for (const m of [honestA, honestB]) {
      assert.ok(scoreOf(m).wrong === 0 && scoreOf(m).score > 0, `honest miner ${m.uid}: ${JSON.stringify(scoreOf(m))}`);
    }

    const w = await owner.windows(brainId, committed.epoch);
    await mineTo(owner, w.revealFrom);
    assert.deepEqual(await validator.revealDue(), [committed.epoch]);
    await mineTo(owner, w.revealTo);
    assert.equal(await validator.settle(committed.epoch), true);
    const after = await owner.brain(brainId);
    const incentive = (m: MinerAgent) => after.miners.find((x) => x.uid === m.uid)!.incentiveRaw;
    for (const m of [honestA, honestB]) {
      assert.ok(incentive(cheater) < incentive(m), `cheater ${incentive(cheater)} < honest ${incentive(m)}`);
    }
  } finally {
    await validator?.stop();
    await Promise.allSettled(miners.map((m) => m.stop()));
    await reference?.release();
    rmSync(dir, { recursive: true, force: true });
  }
});
