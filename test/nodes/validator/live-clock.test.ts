// test-lane: clock — it waits on a chain that mines a block a second for several epochs.
// The live validator (`run`) on a chain that mines a block every second, started as the README shows: no block-time
// flag. Before: the agent assumed 2 s blocks and kept a 60 s tail, so at tempo 70 it spread probes over 2 × 63 − 60 =
// 66 s of a 63 s commit window, overran its deadline and lost every other epoch; and no probe ever started in the
// last stretch of an epoch (the probe-free tail a miner could cheat in).
import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { consensusAbi } from "../../../nodes/chain-artifacts/generated/abis.ts";
import { COMPRESSED_WORKLOAD } from "../../../nodes/client/workload.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
// Every user and probe of the test dials from 127.0.0.1: the per-address connection caps are lifted, as in the benches.
import { ONE_HOST_NODE_LIMITS } from "../../../nodes/miner/one-host.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { validationWords } from "../../../nodes/validator/challenge.ts";
import { mineTo, tinyBrain } from "../network/fixtures.ts";

const TEMPO = 70n;
const EPOCHS = 2n;

test("on a 1 s chain with no block-time flag the validator learns the block time, commits every epoch and probes through the tail",
  { timeout: 420_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cerberus-clock-"));
    const log = createLogger("test", "warn");
    const provider = hre.network.provider;
    const miners: MinerAgent[] = [];
    let validator: ValidatorAgent | undefined;
    let running: Promise<void> | undefined;
    try {
      const { accounts, as, owner, brainId } = await tinyBrain(dir, log, Number(TEMPO));
      for (const k of [1, 2]) {
        miners.push(await MinerAgent.start({ node: ONE_HOST_NODE_LIMITS, chain: as(accounts[k]!), brainId, modelDir: dir, modelName: "tiny-lm",
          dataDir: join(dir, `m${k}`), logger: log }));
      }
      // Start one block into a fresh epoch (seats and stake count from there), then live: a block every second.
      const e0 = (await owner.epochAt(brainId, await owner.blockNumber())) + 1n;
      await mineTo(owner, (await owner.windows(brainId, e0)).commitFrom);
      await provider.request({ method: "evm_setAutomine", params: [false] });
      await provider.request({ method: "evm_setIntervalMining", params: [1_000] });
      const rng = createRng(19);
      validator = await ValidatorAgent.start({ chain: as(accounts[4]!), brainId, heldOut: validationWords(), modelDir: dir,
        modelName: "tiny-lm", dataDir: join(dir, "v"), challengesPerMiner: 12, workload: COMPRESSED_WORKLOAD,
        pollMs: 200, random: rng.next, logger: log });
      const learned = await validator.blockTimeMs();
      assert.ok(learned >= 900 && learned <= 1_100, `block time read from the chain: ${learned} ms`);
      running = validator.run();
      const last = (await owner.windows(brainId, e0 + EPOCHS - 1n)).revealFrom;
      while ((await owner.blockNumber()) < last + 2n) await new Promise((r) => setTimeout(r, 500));

      const committed = await owner.public.getContractEvents({ address: owner.deployment.contracts.Consensus.address,
        abi: consensusAbi, eventName: "WeightsCommitted", args: { brainId }, fromBlock: 0n });
      for (let e = e0; e < e0 + EPOCHS; e++) {
        const w = await owner.windows(brainId, e);
        const c = committed.filter((x) => x.args.epoch === e);
        assert.equal(c.length, 1, `epoch ${e} committed (commits: ${committed.map((x) => x.args.epoch).join(", ")})`);
        assert.ok(c[0]!.blockNumber < w.revealFrom, `epoch ${e}'s commit landed in its commit window`);
      }
      assert.deepEqual(validator.state.list(brainId, "lost"), [], "no epoch lost");
      // Probes started in every part of the epoch, the stretch after the commit deadline included.
      const margin = TEMPO / 10n;
      const phases = await Promise.all(validator.probeStarts.map(async (p) => {
        const w = await owner.windows(brainId, await owner.epochAt(brainId, p.block));
        return Number(p.block - w.commitFrom);
      }));
      const tail = phases.filter((b) => b >= Number(TEMPO - margin)).length;
      assert.ok(tail > 0, `probes started after the deadline (block ≥ ${TEMPO - margin} of ${TEMPO}): ${tail} of ${phases.length}`);
      assert.ok(phases.some((b) => b < Number(TEMPO) / 3) && phases.some((b) => b >= Number(TEMPO) / 3 && b < Number(TEMPO - margin)));
    } finally {
      await provider.request({ method: "evm_setIntervalMining", params: [0] });
      await provider.request({ method: "evm_setAutomine", params: [true] });
      await validator?.stop();
      await running;
      await Promise.allSettled(miners.map((m) => m.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
