/**
 * Attack (issue 11 #4): stake, register, unstake — the seat kept earning with zero stake. Defence (Staking +
 * NeuronRegistry): a miner seat locks its Brain's `minMinerStake` of the hotkey's own stake until the seat is freed
 * (`StakeLocked`); a validator seat whose stake fell below the Brain's `minValidatorStake` is pruned first, whatever
 * its score, once its immunity period has passed. (That such a validator earns nothing is Consensus's voting-stake check.)
 */
import { expect } from "chai";
import * as h from "../helpers";
import { world } from "../fixture";

async function tryTx(p: Promise<{ wait: () => Promise<unknown> }>): Promise<string> {
  try {
    await (await p).wait();
    return "ok";
  } catch (err) {
    return String((err as Error).message);
  }
}

describe("attack: minimum stake only at registration", () => {
  it("a seated miner cannot take its minimum stake out (StakeLocked) until it deregisters", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n });
    const [, owner, m, other] = env.signers;
    const brainId = await h.mintBrain(env, owner, { maxMiners: 4, minMinerStake: 100n * h.CBR });
    const ma = await m.getAddress();
    await h.selfStake(env, m, 150n * h.CBR);
    await h.registerMiner(env, brainId, m, 1);
    const out = await tryTx(env.staking.connect(m).unstake(ma, 150n * h.CBR));
    const [seated] = await env.neurons.uidOf(brainId, ma);
    console.log(`      unstake all while seated: ${out === "ok" ? "accepted" : "refused"}; stake now ${await env.staking.totalStake(ma)}`);
    expect(seated).to.equal(true);
    expect(await env.staking.totalStake(ma), "stake left behind a seated miner").to.be.gte(100n * h.CBR);
    await expect(env.staking.connect(m).unstake(ma, 51n * h.CBR))
      .to.be.revertedWithCustomError(env.staking, "StakeLocked")
      .withArgs(ma, 100n * h.CBR, 150n * h.CBR);
    await expect(env.staking.connect(m).unstake(ma, 50n * h.CBR)).to.emit(env.staking, "Unbonding"); // the free part
    // a second miner seat (another Brain) locks a second minimum: 100 free own stake is needed again
    const b2 = await h.mintBrain(env, owner, { maxMiners: 4, minMinerStake: 100n * h.CBR });
    await expect(env.neurons.connect(m).register(b2, h.ROLE_MINER, h.peerIdOf(1), "0x"))
      .to.be.revertedWithCustomError(env.neurons, "InsufficientStake")
      .withArgs(0, 100n * h.CBR);
    // delegated stake does not count towards a miner's lock: only the hotkey's own
    await h.selfStake(env, other, 100n * h.CBR);
    await expect(env.neurons.connect(other).register(brainId, h.ROLE_MINER, h.peerIdOf(2), "0x")).to.emit(
      env.neurons,
      "NeuronRegistered",
    );
    await expect(env.neurons.connect(m).deregister(brainId)).to.emit(env.staking, "OwnStakeUnlocked").withArgs(ma, 100n * h.CBR, 0n);
    await expect(env.staking.connect(m).unstake(ma, 100n * h.CBR)).to.emit(env.staking, "Unbonding");
  });

  it("a validator seat below its Brain's minimum is pruned first once its immunity has passed", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n });
    const [, owner, v1, v2, newcomer] = env.signers;
    const brainId = await h.mintBrain(env, owner, { maxValidators: 2, minValidatorStake: 100n * h.CBR, immunityPeriod: 10_000 });
    await h.registerValidator(env, brainId, v1, 1, 100n * h.CBR);
    await h.registerValidator(env, brainId, v2, 2, 100n * h.CBR);
    const v2a = await v2.getAddress();
    await (await env.staking.connect(v2).unstake(v2a, 100n * h.CBR)).wait(); // keeps the seat with 0 stake
    await h.selfStake(env, newcomer, 100n * h.CBR);
    // immunity holds against everything (it earns nothing meanwhile: its voting stake is below the minimum)
    await expect(env.neurons.connect(newcomer).register(brainId, h.ROLE_VALIDATOR, h.peerIdOf(9), "0x"))
      .to.be.revertedWithCustomError(env.neurons, "NoPrunableNeuron");
    const { registeredAt } = await env.neurons.neuron(brainId, h.ROLE_VALIDATOR, 1);
    await h.mineTo(registeredAt + 10_000n);
    const out = await tryTx(env.neurons.connect(newcomer).register(brainId, h.ROLE_VALIDATOR, h.peerIdOf(9), "0x"));
    console.log(`      newcomer registration: ${out === "ok" ? "ok" : out.slice(0, 120)}`);
    expect((await env.neurons.uidOf(brainId, v2a))[0], "zero-stake validator still seated").to.equal(false);
    expect((await env.neurons.uidOf(brainId, await newcomer.getAddress()))[0]).to.equal(true);
    expect((await env.neurons.uidOf(brainId, await v1.getAddress()))[0]).to.equal(true);
  });

  it("the below-minimum validator goes before a lower-scoring one past immunity", async () => {
    const w = await world({ maxValidators: 4, immunityPeriod: 0, minValidatorStake: 100n * h.CBR });
    const { nextEpoch, runEpoch, row } = await import("../fixture");
    const epoch = await nextEpoch(w);
    // validator 3 does not reveal: its dividends are 0, the lowest; validator 0 (400 CBR) earns the most
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], k)), [0, 1, 2]);
    await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
    const v0 = await w.validators[0].getAddress();
    await (await w.staking.connect(w.validators[0]).unstake(v0, 350n * h.CBR)).wait(); // 50 left, below 100
    const [x] = w.others;
    await h.selfStake(w, x, 100n * h.CBR);
    const tx = w.neurons.connect(x).register(w.brainId, h.ROLE_VALIDATOR, h.peerIdOf(77), "0x");
    await expect(tx).to.emit(w.neurons, "NeuronPruned").withArgs(w.brainId, h.ROLE_VALIDATOR, 0, v0);
  });
});
