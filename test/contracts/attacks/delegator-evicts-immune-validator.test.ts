/**
 * Attack: a delegator evicts an immune validator. A validator holds 110 CBR (50 own, 60 delegated) against a 100 CBR
 * minimum and is inside its immunity period. The 60 CBR delegator unstakes, pushing it below the minimum — a
 * below-minimum seat used to be pruned first, immunity or not — and registers its own validator in the freed seat.
 * Rule (chosen of the two the review offered): immunity holds against everything, others' stake moves included. A seat
 * inside its immunity period is never pruned; past it, a below-minimum validator seat still goes first. A validator
 * below the minimum earns nothing meanwhile (its voting stake is below the Brain's minimum), so immunity shelters the
 * seat, not its pay.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { expectSolvent } from "../solvency";

const CBR = h.CBR;

async function tryTx(p: Promise<{ wait: () => Promise<unknown> }>): Promise<string> {
  try {
    await (await p).wait();
    return "ok";
  } catch (err) {
    const m = /reverted with custom error '([^']+)'/.exec(String(err));
    return m ? m[1] : String(err).slice(0, 80);
  }
}

describe("attack: a delegator evicts an immune validator", () => {
  it("unstaking below the minimum does not make an immune validator prunable", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n });
    const s = await hre.ethers.getSigners();
    const [owner, v, other, delegator] = s.slice(1, 5);
    const immunity = 10_000;
    const brainId = await h.mintBrain(env, owner, { maxValidators: 2, minValidatorStake: 100n * CBR, immunityPeriod: immunity });
    const va = await v.getAddress();
    const da = await delegator.getAddress();
    await h.registerValidator(env, brainId, v, 1, 100n * CBR);
    await h.registerValidator(env, brainId, other, 2, 200n * CBR);
    await (await env.token.transfer(da, 160n * CBR)).wait();
    await (await env.token.connect(delegator).approve(await env.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    await (await env.staking.connect(delegator).stake(va, 60n * CBR)).wait();
    await (await env.staking.connect(v).unstake(va, 50n * CBR)).wait(); // 50 own + 60 delegated = 110
    expect(await env.staking.totalStake(va)).to.equal(110n * CBR);

    const { registeredAt } = await env.neurons.neuron(brainId, h.ROLE_VALIDATOR, 0);
    await (await env.staking.connect(delegator).unstake(va, 60n * CBR)).wait(); // 50 < 100
    await (await env.staking.connect(delegator).stake(da, 100n * CBR)).wait();
    const out = await tryTx(env.neurons.connect(delegator).register(brainId, h.ROLE_VALIDATOR, h.peerIdOf(9), "0x"));
    const [seated] = await env.neurons.uidOf(brainId, va);
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    console.log(
      `      validator at ${(await env.staking.totalStake(va)) / CBR} CBR, ${now - registeredAt} blocks into its ` +
        `${immunity}-block immunity; the delegator's own registration: ${out}; validator still seated: ${seated}`,
    );
    expect(seated, "the immune validator keeps its seat").to.equal(true);
    expect(out).to.equal(`NoPrunableNeuron(${brainId}, ${h.ROLE_VALIDATOR})`);

    // once its immunity has passed, the below-minimum seat is the first to go
    await h.mineTo(registeredAt + BigInt(immunity));
    await expect(env.neurons.connect(delegator).register(brainId, h.ROLE_VALIDATOR, h.peerIdOf(9), "0x"))
      .to.emit(env.neurons, "NeuronPruned")
      .withArgs(brainId, h.ROLE_VALIDATOR, 0, va);
    await expectSolvent(env);
  });
});
