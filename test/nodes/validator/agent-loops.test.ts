// The agent's two loops on the in-process EVM with interval mining: a reveal due is sent while scoring runs.
// The old agent revealed only between scoring rounds: restarted just before a reveal window with scoring that outlasted
// the window, it scored, committed for the next epoch, and logged "reveal window missed; dropping the commit".
import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { consensusAbi } from "../../../nodes/chain-artifacts/generated/abis.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import { loadBrainModel } from "../../../nodes/client/brain-model.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { validationWords } from "../../../nodes/validator/challenge.ts";

const CBR = 10n ** 18n;
const TEMPO = 20;

test("restarted just before its reveal window, with scoring that outlasts the window: the reveal still lands, then the epoch settles",
  { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "cerberus-loops-"));
    const log = createLogger("test", "warn");
    const provider = hre.network.provider;
    let miner: MinerAgent | undefined;
    const agents: ValidatorAgent[] = [];
    let finished = false; // ends the slow scorer's wait if the test fails early
    try {
      const { vocab } = loadBrownSplits();
      writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "tiny-lm" });
      const model = loadBrainModel({ dir, name: "tiny-lm" });
      const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre))));
      const [ownerAddr, mAddr, vAddr] = (await provider.request({ method: "eth_accounts" })) as [Address, Address, Address];
      const as = (a: Address) => new ChainClient({ transport: custom(provider), deployment, account: a, logger: log });
      const owner = as(ownerAddr);
      const brainId = await owner.mintBrain({ modelHash: model.modelHash, fheParamsHash: model.planHash, uri: "tiny", tempo: TEMPO,
        limits: { maxMiners: 16, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 } });
      await owner.transfer(vAddr, 500n * CBR);
      await as(vAddr).stake(vAddr, 500n * CBR);
      miner = await MinerAgent.start({ chain: as(mAddr), brainId, modelDir: dir, modelName: "tiny-lm", dataDir: join(dir, "m"), logger: log });
      const options = { chain: as(vAddr), brainId, heldOut: validationWords(), modelDir: dir, modelName: "tiny-lm",
        dataDir: join(dir, "v"), challengesPerMiner: 2, pollMs: 100, logger: log };

      const first = await ValidatorAgent.start(options);
      agents.push(first);
      const committed = await first.scoreAndCommit();
      assert.ok(committed !== undefined);
      const e = committed.epoch;
      await first.stop(); // the kill: what survives is the state file
      agents.pop();

      const w = await owner.windows(brainId, e);
      const now = await owner.blockNumber();
      await provider.request({ method: "hardhat_mine", params: [`0x${(w.revealFrom - 3n - now).toString(16)}`] });
      // Live from here: a block every 250 ms, transactions wait for the next one.
      await provider.request({ method: "evm_setAutomine", params: [false] });
      await provider.request({ method: "evm_setIntervalMining", params: [250] });

      const restarted = await ValidatorAgent.start(options);
      agents.push(restarted);
      assert.ok((await owner.blockNumber()) < w.revealFrom, "restarted before the reveal window opened");
      // Scoring that takes longer than the whole reveal window (a slow miner, a busy machine, probes spread out).
      const score = restarted.score.bind(restarted);
      let scoringEndedAt = 0n;
      restarted.score = async (epoch, deadline) => {
        while (!finished && (await owner.blockNumber()) < w.revealTo + 2n) await new Promise((r) => setTimeout(r, 100));
        const r = await score(epoch, deadline);
        scoringEndedAt = await owner.blockNumber();
        return r;
      };
      const running = restarted.run();
      const settledAt = await (async () => {
        for (;;) {
          const s = await owner.settlementState(brainId);
          // Settled on-chain, and the agent has recorded it (it writes its state once the receipt is in).
          const mine = restarted.state.list(brainId).filter((r) => r.epoch === e.toString()).map((r) => r.status);
          if (s.settledAny && s.phase === 0 && s.epoch >= e && mine.includes("settled")) return owner.blockNumber();
          if ((await owner.blockNumber()) > w.revealTo + BigInt(TEMPO)) return undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const revealed = await owner.public.getContractEvents({ address: deployment.contracts.Consensus.address,
        abi: consensusAbi, eventName: "WeightsRevealed", args: { brainId, epoch: e }, fromBlock: 0n });
      assert.equal(revealed.length, 1, `epoch ${e} revealed while scoring ran`);
      assert.ok(revealed[0]!.blockNumber < w.revealTo && revealed[0]!.blockNumber >= w.revealFrom);
      assert.ok(scoringEndedAt === 0n || scoringEndedAt > w.revealTo, "the scoring really outlasted the reveal window");
      assert.ok(settledAt !== undefined, `epoch ${e} settled after its window`);
      assert.deepEqual(restarted.state.list(brainId).filter((r) => r.epoch === e.toString()).map((r) => r.status), ["settled"]);
      await restarted.stop();
      agents.pop();
      await running;
    } finally {
      finished = true;
      await provider.request({ method: "evm_setIntervalMining", params: [0] });
      await provider.request({ method: "evm_setAutomine", params: [true] });
      await Promise.allSettled(agents.map((a) => a.stop()));
      if (miner !== undefined) await miner.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  });
