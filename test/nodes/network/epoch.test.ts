import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address } from "viem";
import { generateSession } from "../../../nodes/client/generate.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
// Every user and probe of the test dials from 127.0.0.1: the per-address connection caps are lifted, as in the benches.
import { ONE_HOST_NODE_LIMITS } from "../../../nodes/miner/one-host.ts";
import { createCerberusNode } from "../../../nodes/net/node.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { validationWords } from "../../../nodes/validator/challenge.ts";
import { COMPRESSED_WORKLOAD } from "../../../nodes/client/workload.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import type { RequestEvent } from "../../../nodes/miner/service.ts";
import { mineTo, tinyBrain } from "./fixtures.ts";

test("a whole epoch on real parts: failover mid-generation, validator restart between commit and reveal, faulty miner loses", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-epoch-"));
  const log = createLogger("test", "warn");
  const miners: MinerAgent[] = [];
  const validators: ValidatorAgent[] = [];
  const userNode = await createCerberusNode({ listen: [] });
  try {
    const { model, accounts, as, owner, brainId } = await tinyBrain(dir, log);
    const [, mA, mB, mC, vAddr] = accounts as [Address, Address, Address, Address, Address];

    // Every request miner B receives, to compare a user's traffic with a validator's.
    const seenByB: { phase: "user" | "validator"; event: RequestEvent }[] = [];
    let phase: "user" | "validator" = "user";
    const startMiner = async (addr: Address, k: number, faultyRate = 0) => {
      const m = await MinerAgent.start({ node: ONE_HOST_NODE_LIMITS, chain: as(addr), brainId, modelDir: dir, modelName: "tiny-lm",
        dataDir: join(dir, `miner-${k}`), faultyRate, logger: log,
        ...(k === 1 ? { service: { onRequest: (event: RequestEvent) => seenByB.push({ phase, event }) } } : {}) });
      miners.push(m);
      return m;
    };
    const honestA = await startMiner(mA, 0);
    const honestB = await startMiner(mB, 1);
    const faulty = await startMiner(mC, 2, 1);

    // A user generates; miner A goes away after two words: the session fails over to B and the text continues.
    const brain = await owner.brain(brainId);
    const addressOf = (m: MinerAgent) => {
      const n = brain.miners.find((x) => x.uid === m.uid)!;
      return { peerId: n.peerId, multiaddrs: n.multiaddrs };
    };
    const words: string[] = [];
    const result = await generateSession({
      model, infer: new InferClient(userNode, { stepTimeoutMs: 10_000 }), miners: [addressOf(honestA), addressOf(honestB)],
      prompt: "the jury said", words: 6, seed: 3,
      // Selection draws miners at random; this draw takes A then B (both idle, so their order stands): start on A.
      random: () => 0,
      onWord: (w) => {
        words.push(w.word);
        if (w.index === 1) void honestA.stop();
      },
    });
    assert.equal(result.words.length, 6);
    assert.deepEqual(result.words.map((w) => w.word), words);
    assert.ok(result.failovers >= 1, "the session moved to another miner");
    assert.equal(result.words.at(-1)!.miner, honestB.peerId);

    // The validator scores and commits, then restarts before the reveal window; the new process still reveals.
    phase = "validator";
    const vDir = join(dir, "validator");
    const heldOut = validationWords();
    let seed = 11;
    const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
    const first = await ValidatorAgent.start({ chain: as(vAddr), brainId, heldOut, modelDir: dir, modelName: "tiny-lm",
      dataDir: vDir, challengesPerMiner: 3, workload: COMPRESSED_WORKLOAD, probeWindowMs: 4_000, random, logger: log });
    validators.push(first);
    // Stake and seats count for an epoch only if they were in place when it began: commit in the next epoch.
    const now = await owner.epochAt(brainId, await owner.blockNumber());
    await mineTo(owner, (await owner.windows(brainId, now)).revealFrom);
    const committed = await first.scoreAndCommit();
    assert.ok(committed !== undefined);
    const scoreOf = (uid: number) => committed.scores.find((s) => s.uid === uid)!;
    // Probes land where users land (the users' choice over the whole Brain): B and the faulty miner share them.
    assert.ok(scoreOf(honestB.uid).challenges >= 1, "probe sessions reached the honest miner");
    assert.equal(scoreOf(honestB.uid).correct, scoreOf(honestB.uid).challenges, "the honest miner answers every step correctly");
    assert.equal(scoreOf(faulty.uid).correct, 0, "every answer of the always-faulty miner is caught");
    assert.equal(scoreOf(faulty.uid).score, 0, "a wrong answer zeroes the window");
    assert.equal(scoreOf(honestA.uid).answered, 0, "the stopped miner answers nothing");
    const probeOpens = seenByB.filter((x) => x.phase === "validator" && (x.event.header as { type?: string }).type === "open");
    assert.ok(probeOpens.length >= 1, "probe sessions reached miner B");
    assert.ok(probeOpens.every((x) => x.event.peerId !== first.node.peerId.toString()), "never the validator's registered identity");
    await first.stop();
    validators.pop();

    // What miner B saw: a validator's session is shaped exactly like a user's (same message types in the same
    // order, same header fields, same number of parts, part sizes within the jitter of compressed ciphertexts).
    const shape = (p: "user" | "validator", type: string) => seenByB
      .filter((x) => x.phase === p && (x.event.header as { type?: string } | undefined)?.type === type)
      .map((x) => ({ fields: Object.keys(JSON.parse(x.event.headerJson!) as object).sort().join(","), parts: x.event.partSizes }));
    for (const type of ["open", "step"]) {
      const user = shape("user", type);
      const validator = shape("validator", type);
      assert.ok(user.length > 0 && validator.length > 0, `both sent ${type}`);
      assert.deepEqual(new Set(validator.map((v) => v.fields)), new Set(user.map((u) => u.fields)), `${type} header fields`);
      for (const v of validator) {
        assert.equal(v.parts.length, user[0]!.parts.length, `${type} part count`);
        v.parts.forEach((size, i) => {
          const ref = user[0]!.parts[i]!;
          assert.ok(Math.abs(size - ref) <= Math.max(64, ref * 0.02), `${type} part ${i}: ${size} vs a user's ${ref} bytes`);
        });
      }
    }

    const w = await owner.windows(brainId, committed.epoch);
    await mineTo(owner, w.revealFrom);
    const second = await ValidatorAgent.start({ chain: as(vAddr), brainId, heldOut, modelDir: dir, modelName: "tiny-lm",
      dataDir: vDir, challengesPerMiner: 3, random, logger: log });
    validators.push(second);
    // The restarted validator reveals from its saved state at start-up, before loading anything slow.
    assert.deepEqual(second.state.list(brainId, "revealed").map((r) => BigInt(r.epoch)), [committed.epoch],
      "the restarted validator revealed from its saved state");
    assert.deepEqual(await second.revealDue(), [], "nothing is left to reveal");
    await mineTo(owner, w.revealTo);
    const from = await owner.blockNumber();
    assert.equal(await second.settle(committed.epoch), true);
    assert.equal(await second.settle(committed.epoch), false, "settling twice is a no-op, not an error");

    const after = await owner.brain(brainId);
    const incentive = (m: MinerAgent) => after.miners.find((x) => x.uid === m.uid)!.incentiveRaw;
    assert.ok(incentive(faulty) < incentive(honestB), "the faulty miner's incentive is strictly lower");
    assert.ok(incentive(honestB) >= 65_534, "the only correct miner takes the whole incentive (to one unit of rounding)");
    assert.ok(after.validators.find((v) => v.uid === second.uid)!.dividends > 0.99, "the restarted validator's reveal counted");
    assert.deepEqual(second.state.list(brainId, "settled").map((r) => BigInt(r.epoch)), [committed.epoch]);
    const paid = (await owner.epochPayouts(brainId, committed.epoch, from))!;
    assert.ok(paid.emission > 0n);
    assert.equal(paid.minerPaid + paid.validatorPaid + paid.ownerPaid, paid.emission, "the epoch pays exactly its emission");
  } finally {
    await Promise.allSettled(validators.map((v) => v.stop()));
    await Promise.allSettled(miners.map((m) => m.stop()));
    await userNode.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
