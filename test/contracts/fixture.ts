/** A deployed network with one Brain, 6 miners and 4 validators (hardhat default accounts). */
import hre from "hardhat";
import type { Signer } from "ethers";
import * as h from "./helpers";

export interface World extends h.Env {
  brainId: bigint;
  owner: Signer;
  miners: Signer[];
  validators: Signer[];
  others: Signer[];
}

export const VALIDATOR_STAKE = [400n, 300n, 200n, 100n].map((x) => x * h.CBR);

export async function world(config: h.BrainConfig = {}): Promise<World> {
  const env = await h.deployEnv({ initialReward: h.CBR, halvingInterval: 1_000_000n, unbondingBlocks: 10n });
  const s = await hre.ethers.getSigners();
  const owner = s[1];
  const miners = s.slice(2, 8);
  const validators = s.slice(8, 12);
  const brainId = await h.mintBrain(env, owner, { maxMiners: 40, maxValidators: 4, tempo: 40, ...config });
  for (let j = 0; j < miners.length; j++) await h.registerMiner(env, brainId, miners[j], j);
  for (let i = 0; i < validators.length; i++) {
    await h.registerValidator(env, brainId, validators[i], i, VALIDATOR_STAKE[i]);
  }
  return { ...env, brainId, owner, miners, validators, others: s.slice(12) };
}

export async function worldFixture(): Promise<World> {
  return world();
}

/** The epoch whose commit window starts next (so a whole window is ahead). */
export async function nextEpoch(w: World): Promise<bigint> {
  const now = BigInt(await hre.ethers.provider.getBlockNumber());
  return (await w.consensus.epochAt(w.brainId, now + 1n)) + 1n;
}

/** Commit + reveal (reveal only for validators in `revealers`, default all) and move to the settle block. */
export async function runEpoch(
  w: World,
  epoch: bigint,
  rows: h.Reveal[],
  revealers: number[] = rows.map((_, i) => i),
): Promise<void> {
  await h.gotoCommitWindow(w, w.brainId, epoch);
  await h.commitAll(w, w.brainId, epoch, w.validators.slice(0, rows.length), rows);
  await h.gotoRevealWindow(w, w.brainId, epoch);
  await h.revealAll(
    w,
    w.brainId,
    epoch,
    revealers.map((i) => w.validators[i]),
    revealers.map((i) => rows[i]),
  );
  await h.gotoSettle(w, w.brainId, epoch);
}

export function row(weights: number[], k: number): h.Reveal {
  const uids: number[] = [];
  const ws: number[] = [];
  weights.forEach((x, j) => {
    if (x > 0) {
      uids.push(j);
      ws.push(x);
    }
  });
  return { uids, weights: ws, salt: h.salt(k) };
}

/** Gives `who` CBR and approves Staking to pull it (a delegator about to stake). */
export async function fund(w: World, who: Signer, amount: bigint): Promise<void> {
  await (await w.token.transfer(await who.getAddress(), amount)).wait();
  await (await w.token.connect(who).approve(await w.staking.getAddress(), hre.ethers.MaxUint256)).wait();
}

/** A staker's pending (claimable) rewards in its position on `hotkey`. */
export async function pending(w: World, who: Signer, hotkey: string): Promise<bigint> {
  return (await w.staking.positionOf(await who.getAddress(), hotkey))[1];
}
