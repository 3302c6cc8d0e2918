// What a validator knows about miners survives its process: each miner's last score and its wrong-answer penalty
// live in scores.json beside the state file. A validator restarted late in an epoch has an almost empty window; with
// nothing remembered it scored every miner 0 and committed nothing (the live restart test's epoch that A never
// committed), and a restart forgave a wrong answer.
import "../../../nodes/core/polyfills.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import { loadBrainModel } from "../../../nodes/client/brain-model.ts";
import { createLogger } from "../../../nodes/core/log.ts";
import { MinerAgent } from "../../../nodes/miner/agent.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";
import { ValidatorAgent } from "../../../nodes/validator/agent.ts";
import { validationWords } from "../../../nodes/validator/challenge.ts";
import type { ChallengeOutcome } from "../../../nodes/validator/scoring.ts";

const CBR = 10n ** 18n;
/** The Brain's seats as the agent's loops load them, without scoring a window (which would age what it remembers). */
const loadMiners = (agent: ValidatorAgent) => (agent as unknown as { refreshMiners(): Promise<unknown> }).refreshMiners();

test("a restarted validator keeps each miner's last score and its wrong-answer penalty (scores.json)", { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-memory-"));
  const log = createLogger("test", "warn");
  const provider = hre.network.provider;
  const miners: MinerAgent[] = [];
  const agents: ValidatorAgent[] = [];
  try {
    const { vocab } = loadBrownSplits();
    writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "tiny-lm" });
    const model = loadBrainModel({ dir, name: "tiny-lm" });
    const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre))));
    const [ownerAddr, goodAddr, badAddr, vAddr] = (await provider.request({ method: "eth_accounts" })) as [Address, Address, Address, Address];
    const as = (a: Address) => new ChainClient({ transport: custom(provider), deployment, account: a, logger: log });
    const owner = as(ownerAddr);
    const brainId = await owner.mintBrain({ modelHash: model.modelHash, fheParamsHash: model.planHash, uri: "tiny", tempo: 20,
      limits: { maxMiners: 16, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 } });
    await owner.transfer(vAddr, 500n * CBR);
    await as(vAddr).stake(vAddr, 500n * CBR);
    for (const a of [goodAddr, badAddr]) {
      miners.push(await MinerAgent.start({ chain: as(a), brainId, modelDir: dir, modelName: "tiny-lm", dataDir: join(dir, a), logger: log }));
    }
    const [good, bad] = miners as [MinerAgent, MinerAgent];
    const options = { chain: as(vAddr), brainId, heldOut: validationWords(), modelDir: dir, modelName: "tiny-lm",
      dataDir: join(dir, "v"), pollMs: 100, logger: log };

    // One window: the good miner answered two steps right, the bad one answered one wrongly.
    const step = (right: boolean): ChallengeOutcome => ({ answered: true, top1Match: right, maxRelError: right ? 1e-6 : 0.5, ms: 100 });
    const first = await ValidatorAgent.start(options);
    agents.push(first);
    await loadMiners(first);
    const before = first.scoreWindow(1n, new Map([[good.uid, [step(true), step(true)]], [bad.uid, [step(false)]]]));
    assert.ok(before.scores.find((s) => s.uid === good.uid)!.score > 0);
    assert.equal(before.scores.find((s) => s.uid === bad.uid)!.score, 0);
    await first.stop(); // what survives the process is on disk
    agents.pop();

    // The next process's first window is empty (restarted late in an epoch): the good miner keeps its score, and the
    // bad one, which answered right this time, still serves its penalty window.
    const restarted = await ValidatorAgent.start(options);
    agents.push(restarted);
    await loadMiners(restarted);
    const after = restarted.scoreWindow(2n, new Map([[bad.uid, [step(true)]]]));
    const goodAfter = after.scores.find((s) => s.uid === good.uid)!;
    assert.equal(goodAfter.score, before.scores.find((s) => s.uid === good.uid)!.score, "the good miner's last score is kept");
    assert.equal(after.scores.find((s) => s.uid === bad.uid)!.score, 0, "the restart did not forgive the wrong answer");
    assert.deepEqual(after.uids, [good.uid], "something to commit: the good miner");
  } finally {
    for (const a of agents) await a.stop().catch(() => undefined);
    for (const m of miners) await m.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});
