/**
 * Exact median ties: with stakes 1:2:3 the validators with stake 1 and 2 weighting a miner at 0.5 or more hold exactly
 * half of the stake, so the consensus is 0.5. The median compares 2·Σ_{w ≥ c} S ≥ ΣS on whole-gwei voting stake,
 * with no share truncation.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";

const CBR = h.CBR;

describe("attack: exact median ties", () => {
  it("stakes 1:2:3 give consensus 0.5 on the contract", async () => {
    const env = await h.deployEnv({ initialReward: CBR, halvingInterval: 1_000_000n, unbondingBlocks: 10n });
    const s = await hre.ethers.getSigners();
    const brainId = await h.mintBrain(env, s[1], { maxMiners: 2, maxValidators: 3, tempo: 40 });
    await h.registerMiner(env, brainId, s[2], 0);
    await h.registerMiner(env, brainId, s[3], 1);
    const vs = [s[4], s[5], s[6]];
    for (let i = 0; i < 3; i++) await h.registerValidator(env, brainId, vs[i], i, BigInt(i + 1) * 100n * CBR);
    // stake 1: all on miner 0; stake 2: half/half; stake 3: all on miner 1
    const rows: h.Reveal[] = [
      { uids: [0], weights: [65535], salt: h.salt(0) },
      { uids: [0, 1], weights: [1, 1], salt: h.salt(1) },
      { uids: [1], weights: [65535], salt: h.salt(2) },
    ];
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    const epoch = (await env.consensus.epochAt(brainId, now + 1n)) + 1n;
    await h.gotoCommitWindow(env, brainId, epoch);
    await h.commitAll(env, brainId, epoch, vs, rows);
    await h.gotoRevealWindow(env, brainId, epoch);
    await h.revealAll(env, brainId, epoch, vs, rows);
    await h.gotoSettle(env, brainId, epoch);
    await (await env.consensus.settle(brainId, epoch, 1000)).wait();
    // exact: C_0 = 32767 (0.5), C_1 = 65535 → R_0 = (1·32767 + 2·32767)/6, R_1 = (2·32767 + 3·65535)/6 (weights
    // normalized on-chain: [1,1] → 32767 each)
    const r0 = 3 * 32767;
    const r1 = 2 * 32767 + 3 * 65535;
    const expected = Math.floor((65535 * r0) / (r0 + r1));
    const inc = await env.consensus.minerIncentives(brainId);
    expect(Number(inc[0]), `incentive of miner 0 is ${inc[0]}/65535 (exact median: ${expected})`).to.be.closeTo(expected, 2);
  });
});
