/**
 * Seat rules of issue 11 on the NeuronRegistry side: one validator seat per hotkey network-wide, each Brain's
 * validator stake reported to Emission as its weight, and what still works in a Brain that is no longer active.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "./helpers";

async function twoBrains() {
  const env = await h.deployEnv({ unbondingBlocks: 10n });
  const s = env.signers;
  const owner = s[1];
  const b1 = await h.mintBrain(env, owner, { maxValidators: 2, minValidatorStake: 100n * h.CBR, minMinerStake: 10n * h.CBR });
  const b2 = await h.mintBrain(env, owner, { maxValidators: 2, minValidatorStake: 100n * h.CBR, minMinerStake: 10n * h.CBR });
  return { env, b1, b2, v: s[2], v2: s[3], m: s[4], d: s[5], x: s[6] };
}

describe("Seats and Brain stake", () => {
  it("a hotkey validates in one Brain only; miner seats are not limited that way", async () => {
    const { env, b1, b2, v } = await twoBrains();
    await h.registerValidator(env, b1, v, 1, 150n * h.CBR);
    await expect(env.neurons.connect(v).register(b2, h.ROLE_VALIDATOR, h.peerIdOf(2), "0x"))
      .to.be.revertedWithCustomError(env.neurons, "AlreadyValidating")
      .withArgs(b1);
    await h.selfStake(env, v, 10n * h.CBR);
    await expect(env.neurons.connect(v).register(b2, h.ROLE_MINER, h.peerIdOf(3), "0x")).to.emit(env.neurons, "NeuronRegistered");
    expect(await env.neurons.validatorBrainOf(await v.getAddress())).to.equal(b1);
    await (await env.neurons.connect(v).deregister(b1)).wait();
    expect(await env.neurons.validatorBrainOf(await v.getAddress())).to.equal(0n);
    // free to validate again, but not in b2: v holds b2's miner seat (one seat per Brain)
    await expect(env.neurons.connect(v).register(b2, h.ROLE_VALIDATOR, h.peerIdOf(4), "0x")).to.be.revertedWithCustomError(
      env.neurons,
      "AlreadyRegistered",
    );
  });

  it("keeps each Brain's validator stake and reports it to Emission on seat and stake changes", async () => {
    const { env, b1, b2, v, v2, d, m } = await twoBrains();
    const va = await v.getAddress();
    const weight = async (b: bigint) => {
      const w = await env.emission.brainWeight(b);
      expect(await env.neurons.brainStake(b)).to.equal(w);
      return w;
    };
    await h.registerValidator(env, b1, v, 1, 150n * h.CBR);
    expect(await weight(b1)).to.equal(150n * h.CBR);
    await h.registerValidator(env, b2, v2, 2, 120n * h.CBR);
    expect(await weight(b2)).to.equal(120n * h.CBR);
    await (await env.token.transfer(await d.getAddress(), 100n * h.CBR)).wait();
    await (await env.token.connect(d).approve(await env.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    await expect(env.staking.connect(d).stake(va, 60n * h.CBR))
      .to.emit(env.emission, "BrainWeightChanged")
      .withArgs(b1, 210n * h.CBR);
    await (await env.staking.connect(d).unstake(va, 25n * h.CBR)).wait();
    expect(await weight(b1)).to.equal(185n * h.CBR);
    expect(await weight(b2)).to.equal(120n * h.CBR);
    // stake of a non-validator moves no Brain's weight
    await h.selfStake(env, m, 10n * h.CBR);
    expect(await weight(b1)).to.equal(185n * h.CBR);
    await expect(env.neurons.connect(v).deregister(b1)).to.emit(env.emission, "BrainWeightChanged").withArgs(b1, 0n);
    // the stake stays on the hotkey but no longer counts for any Brain
    await (await env.staking.connect(v).unstake(va, 50n * h.CBR)).wait();
    expect(await weight(b1)).to.equal(0n);
  });

  it("a pruned validator's stake leaves its Brain's weight", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n });
    const [, owner, a, b, c] = env.signers;
    const brainId = await h.mintBrain(env, owner, { maxValidators: 2, minValidatorStake: 100n * h.CBR });
    await h.registerValidator(env, brainId, a, 1, 300n * h.CBR);
    await h.registerValidator(env, brainId, b, 2, 100n * h.CBR);
    await (await env.staking.connect(b).unstake(await b.getAddress(), 50n * h.CBR)).wait(); // below the minimum
    expect(await env.neurons.brainStake(brainId)).to.equal(350n * h.CBR);
    await h.registerValidator(env, brainId, c, 3, 200n * h.CBR);
    expect(await env.neurons.brainStake(brainId)).to.equal(500n * h.CBR);
    expect(await env.emission.brainWeight(brainId)).to.equal(500n * h.CBR);
  });

  it("in a Brain that is no longer active: no registrations or delegations, deregistration and unstaking work, a validator seat there does not block validating elsewhere", async () => {
    const { env, b1, b2, v, m, d } = await twoBrains();
    const va = await v.getAddress();
    const ma = await m.getAddress();
    await h.registerValidator(env, b2, v, 1, 150n * h.CBR);
    await h.selfStake(env, m, 10n * h.CBR);
    await h.registerMiner(env, b2, m, 7);
    await h.deactivateBrainsAbove(env, b1);
    expect(await env.brains.brainExists(b2)).to.equal(false);
    await expect(env.neurons.connect(d).register(b2, h.ROLE_MINER, h.peerIdOf(9), "0x"))
      .to.be.revertedWithCustomError(env.neurons, "UnknownBrain")
      .withArgs(b2);
    expect(await env.neurons.validatorBrainOf(va)).to.equal(0n);
    expect(await env.neurons.validatorSeatOf(va)).to.equal(b2);
    await (await env.token.transfer(await d.getAddress(), 10n * h.CBR)).wait();
    await (await env.token.connect(d).approve(await env.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    await expect(env.staking.connect(d).stake(va, 1n)).to.be.revertedWithCustomError(env.staking, "NotAValidator").withArgs(va);
    // the validator's own stake moves without touching the inactive Brain's emission weight
    const before = await env.emission.brainWeight(b2);
    await expect(env.staking.connect(v).unstake(va, 10n * h.CBR)).to.not.emit(env.emission, "BrainWeightChanged");
    expect(await env.emission.brainWeight(b2)).to.equal(before);
    // registering as a validator elsewhere frees the old seat
    const tx = env.neurons.connect(v).register(b1, h.ROLE_VALIDATOR, h.peerIdOf(1), "0x");
    await expect(tx).to.emit(env.neurons, "NeuronDeregistered").withArgs(b2, h.ROLE_VALIDATOR, 0, va);
    await expect(tx).to.emit(env.neurons, "NeuronRegistered");
    expect(await env.neurons.validatorBrainOf(va)).to.equal(b1);
    expect((await env.neurons.uidOf(b2, va))[0]).to.equal(false);
    // the miner leaves the inactive Brain and gets its stake lock back
    await expect(env.neurons.connect(m).deregister(b2)).to.emit(env.staking, "OwnStakeUnlocked").withArgs(ma, 10n * h.CBR, 0n);
    await expect(env.staking.connect(m).unstake(ma, 10n * h.CBR)).to.emit(env.staking, "Unbonding");
  });

  it("a half-settled Brain cannot go inactive; once settled and deregistered, leaving it releases the miner's lock", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n });
    const [, owner, m0, m1, v0, v1] = env.signers;
    const brainId = await h.mintBrain(env, owner, { maxMiners: 32, maxValidators: 2, minMinerStake: 10n * h.CBR, tempo: 40 });
    for (const [i, m] of [m0, m1].entries()) {
      await h.selfStake(env, m, 10n * h.CBR);
      await h.registerMiner(env, brainId, m, i);
    }
    for (const [i, v] of [v0, v1].entries()) await h.registerValidator(env, brainId, v, i, 200n * h.CBR);
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    const epoch = (await env.consensus.epochAt(brainId, now + 1n)) + 1n;
    const rows = [0, 1].map((k) => ({ uids: [0, 1], weights: [100, 200], salt: h.salt(k) }));
    await h.gotoCommitWindow(env, brainId, epoch);
    await h.commitAll(env, brainId, epoch, [v0, v1], rows);
    await h.gotoRevealWindow(env, brainId, epoch);
    await h.revealAll(env, brainId, epoch, [v0, v1], rows);
    await h.gotoSettle(env, brainId, epoch);
    await (await env.consensus.settle(brainId, epoch, 1)).wait(); // one step: the settlement stays in progress
    expect((await env.consensus.settlementState(brainId))[0].phase).to.not.equal(0n);
    await expect(env.neurons.connect(m0).deregister(brainId)).to.be.revertedWithCustomError(env.consensus, "SettlementInProgress");
    // A half-settled Brain cannot be deregistered (BrainRegistry refuses), so it can never be stuck inactive and
    // half-settled; anyone finishes the settlement, then the Brain goes and its seats leave with their locks released.
    await expect(h.deactivateBrainsAbove(env, 0n)).to.be.revertedWithCustomError(env.brains, "SettlementInProgress");
    await (await env.consensus.settle(brainId, epoch, 512)).wait();
    await h.deactivateBrainsAbove(env, 0n);
    const ma = await m0.getAddress();
    const tx = env.neurons.connect(m0).deregister(brainId);
    await expect(tx).to.emit(env.staking, "OwnStakeUnlocked").withArgs(ma, 10n * h.CBR, 0n);
    await expect(tx).to.not.emit(env.neurons, "SeatHookSkipped");
    await expect(env.staking.connect(m0).unstake(ma, 10n * h.CBR)).to.emit(env.staking, "Unbonding");
    await expect(env.neurons.connect(v0).deregister(brainId)).to.emit(env.neurons, "NeuronDeregistered");
  });

  it("only Staking reports stake changes; only NeuronRegistry locks stake", async () => {
    const { env, x } = await twoBrains();
    const xa = await x.getAddress();
    await expect(env.neurons.connect(x).onStakeChanged(xa, 1n)).to.be.revertedWithCustomError(env.neurons, "NotStaking").withArgs(xa);
    await expect(env.staking.connect(x).lockOwnStake(xa, 1n)).to.be.revertedWithCustomError(env.staking, "NotNeuronRegistry").withArgs(xa);
    await expect(env.staking.connect(x).unlockOwnStake(xa, 1n)).to.be.revertedWithCustomError(env.staking, "NotNeuronRegistry");
  });
});
