/** Chain helpers the whole-network tests share (Hardhat's in-process EVM, mined on demand). */
import hre from "hardhat";
import type { ChainClient } from "../../../nodes/chain/client.ts";

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
