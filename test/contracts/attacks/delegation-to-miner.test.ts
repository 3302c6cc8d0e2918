/**
 * Attack (issue 11 #7): delegate to a miner hotkey. Miners receive no dividends, so the stake can never earn — a trap
 * for delegators (and a way to inflate a miner's apparent stake). Defence: delegation (hotkey ≠ staker) needs the
 * hotkey to hold a validator seat in an active Brain, else `NotAValidator(hotkey)`.
 */
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { worldFixture } from "../fixture";

describe("attack: delegation to a miner", () => {
  it("refuses delegation to a miner or to a hotkey that left its validator seat", async () => {
    const w = await loadFixture(worldFixture);
    const [d] = w.others;
    const da = await d.getAddress();
    await (await w.token.transfer(da, 1_000n * h.CBR)).wait();
    await (await w.token.connect(d).approve(await w.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    const miner = await w.miners[0].getAddress();
    try {
      await (await w.staking.connect(d).stake(miner, 100n * h.CBR)).wait();
    } catch {
      /* refused: checked below */
    }
    const [amount] = await w.staking.positionOf(da, miner);
    console.log(`      delegated to a miner: ${amount} wei`);
    expect(amount, "stake delegated to a miner").to.equal(0n);
    await expect(w.staking.connect(d).stake(miner, 1n)).to.be.revertedWithCustomError(w.staking, "NotAValidator").withArgs(miner);
    const v3 = w.validators[3];
    const v3a = await v3.getAddress();
    await expect(w.staking.connect(d).stake(v3a, 1n)).to.emit(w.staking, "Staked");
    await (await w.neurons.connect(v3).deregister(w.brainId)).wait();
    await expect(w.staking.connect(d).stake(v3a, 1n)).to.be.revertedWithCustomError(w.staking, "NotAValidator").withArgs(v3a);
    // leaving is always possible
    await expect(w.staking.connect(d).unstake(v3a, 1n)).to.emit(w.staking, "Unbonding");
  });
});
