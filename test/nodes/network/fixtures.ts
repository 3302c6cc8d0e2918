/** Chain helpers the whole-network tests share (Hardhat's in-process EVM, mined on demand). */
import hre from "hardhat";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { loadBrainModel, mlpModel, type MlpBrainModel as BrainModel } from "../../../nodes/client/brain-model.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import type { Logger } from "../../../nodes/core/log.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../../nodes/train/tiny-lm.ts";

export const CBR = 10n ** 18n;

/** Mines blocks until the chain head reaches `block` (nothing if it is there already). */
export async function mineTo(chain: ChainClient, block: bigint): Promise<void> {
  const now = await chain.blockNumber();
  if (block > now) await hre.network.provider.request({ method: "hardhat_mine", params: [`0x${(block - now).toString(16)}`] });
}

/**
 * Mines to the first block of the next epoch: stake and seats count from the epoch after they were in place (voting
 * stake), so a test that just staked and registered scores and commits there.
 */
export async function mineToNextEpoch(chain: ChainClient, brainId: bigint): Promise<void> {
  const now = await chain.epochAt(brainId, await chain.blockNumber());
  await mineTo(chain, (await chain.windows(brainId, now + 1n)).commitFrom);
}

export interface TinyBrain {
  /** The tiny random-weight LM of the shipped format, written to the test's folder as "tiny-lm". */
  model: BrainModel;
  /** Hardhat's accounts: [0] owns the Brain, [4] is a staked validator hotkey; the others are free for miners. */
  accounts: Address[];
  /** A chain client signing as `account`. */
  as: (account: Address) => ChainClient;
  owner: ChainClient;
  brainId: bigint;
}

/**
 * The whole-network tests' common start: contracts deployed on Hardhat's in-process EVM, a tiny LM written to `dir`,
 * a Brain minted for it (tempo 20 unless told, no miner stake, validators from 100 CBR) and accounts[4] staked with 500 CBR.
 */
export async function tinyBrain(dir: string, log: Logger, tempo = 20): Promise<TinyBrain> {
  const { vocab } = loadBrownSplits();
  writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "tiny-lm" });
  const model = mlpModel(loadBrainModel({ dir, name: "tiny-lm" }));
  const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre))));
  const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
  const as = (account: Address) => new ChainClient({ transport: custom(hre.network.provider), deployment, account, logger: log });
  const owner = as(accounts[0]!);
  const brainId = await owner.mintBrain({
    modelHash: model.modelHash, fheParamsHash: model.planHash, uri: "tiny", tempo,
    limits: { maxMiners: 16, maxValidators: 4, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 },
  });
  const validator = accounts[4]!;
  await owner.transfer(validator, 500n * CBR);
  await as(validator).stake(validator, 500n * CBR);
  return { model, accounts, as, owner, brainId };
}
