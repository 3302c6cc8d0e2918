import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { worldFixture, nextEpoch, runEpoch, row } from "./fixture";

describe("Staking", () => {
  it("stakes own and delegated CBR; delegation needs a validator hotkey", async () => {
    const w = await loadFixture(worldFixture);
    const [d] = w.others;
    const da = await d.getAddress();
    const v0 = await w.validators[0].getAddress();
    await w.token.transfer(da, 100n * h.CBR);
    await w.token.connect(d).approve(await w.staking.getAddress(), hre.ethers.MaxUint256);
    const before = await w.staking.totalStake(v0);
    await expect(w.staking.connect(d).stake(v0, 40n * h.CBR)).to.emit(w.staking, "Staked").withArgs(da, v0, 40n * h.CBR);
    expect(await w.staking.totalStake(v0)).to.equal(before + 40n * h.CBR);
    const [amount] = await w.staking.positionOf(da, v0);
    expect(amount).to.equal(40n * h.CBR);
    const stranger = await w.others[1].getAddress();
    await expect(w.staking.connect(d).stake(stranger, 1n))
      .to.be.revertedWithCustomError(w.staking, "NotAValidator")
      .withArgs(stranger);
    await expect(w.staking.connect(d).stake(da, 1n)).to.emit(w.staking, "Staked"); // own stake needs no seat
    await expect(w.staking.connect(d).stake(v0, 0n)).to.be.revertedWithCustomError(w.staking, "ZeroAmount");
  });

  it("unbonds with a delay, then withdraws", async () => {
    const w = await loadFixture(worldFixture);
    const v = w.validators[0];
    const va = await v.getAddress();
    const tx = w.staking.connect(v).unstake(va, 50n * h.CBR);
    await expect(tx).to.emit(w.staking, "Unbonding");
    const [amount, release] = await w.staking.unbonds(va);
    expect(amount).to.equal(50n * h.CBR);
    expect(release).to.equal(BigInt(await hre.ethers.provider.getBlockNumber()) + 10n);
    await expect(w.staking.connect(v).withdraw()).to.be.revertedWithCustomError(w.staking, "StillUnbonding").withArgs(release);
    await mine(10);
    const w1 = w.staking.connect(v).withdraw();
    await expect(w1).to.emit(w.staking, "Withdrawn").withArgs(va, 50n * h.CBR);
    await expect(w1).to.changeTokenBalance(w.token, v, 50n * h.CBR);
    await expect(w.staking.connect(v).withdraw()).to.be.revertedWithCustomError(w.staking, "NothingToWithdraw");
    await expect(w.staking.connect(v).unstake(va, 10_000n * h.CBR)).to.be.revertedWithCustomError(w.staking, "InsufficientStake");
    await expect(w.staking.connect(v).unstake(va, 0)).to.be.revertedWithCustomError(w.staking, "ZeroAmount");
  });

  it("pays dividends: take to the hotkey, the rest pro rata to stakers (own stake included), O(1) claims", async () => {
    const w = await loadFixture(worldFixture);
    const v0 = w.validators[0];
    const v0a = await v0.getAddress();
    const [d] = w.others;
    const da = await d.getAddress();
    await w.token.transfer(da, 400n * h.CBR);
    await w.token.connect(d).approve(await w.staking.getAddress(), hre.ethers.MaxUint256);
    await w.staking.connect(d).stake(v0a, 400n * h.CBR); // equal to the validator's own 400
    await expect(w.staking.connect(v0).setTake(1000)).to.emit(w.staking, "TakeChanged").withArgs(v0a, 1000);
    await expect(w.staking.connect(v0).setTake(2001)).to.be.revertedWithCustomError(w.staking, "TakeTooHigh").withArgs(2001);
    // warm-up: stake shares only in the dividends of epochs that begin after it was made; here both the validator's
    // own 400 and the delegator's 400 were in place when the first epoch began
    expect(await w.staking.activeStake(v0a)).to.equal(0n);
    expect((await w.staking.positionInfo(da, v0a))[1]).to.equal(400n * h.CBR);
    const warmUp = await nextEpoch(w);
    await runEpoch(w, warmUp, [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], k)));
    await (await w.consensus.settle(w.brainId, warmUp, 1000)).wait();
    expect(await w.staking.activeStake(v0a)).to.equal(800n * h.CBR);
    const [, warmingAfter, pendingAfterFirst] = await w.staking.positionInfo(da, v0a);
    expect(warmingAfter).to.equal(0n);
    expect(pendingAfterFirst).to.be.greaterThan(0n); // the first distribution already pays the stake in place
    await (await w.staking.connect(d).claimRewards(v0a)).wait();
    await (await w.staking.connect(v0).claimRewards(v0a)).wait();
    await (await w.staking.connect(v0).claimCommission()).wait();
    const epoch = warmUp + 1n;
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], 10 + k)));
    const tx = await w.consensus.settle(w.brainId, epoch, 1000);
    const rc = await tx.wait();
    const ev = rc!.logs
      .map((l) => {
        try {
          return w.staking.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .find((p) => p?.name === "RewardsDistributed" && p.args.hotkey === v0a)!;
    const amount: bigint = ev.args.amount;
    const take: bigint = ev.args.take;
    expect(take).to.equal((amount * 1000n) / 10_000n);
    const [, , commission] = await w.staking.hotkeyInfo(v0a);
    const [, pendV] = await w.staking.positionOf(v0a, v0a);
    const [, pendD] = await w.staking.positionOf(da, v0a);
    // accumulator scale 1e18 over 800e18 staked: per-position truncation is below 1,000 wei
    expect(pendD).to.be.closeTo((amount - take) / 2n, 1000n);
    expect(commission + pendV + pendD).to.be.closeTo(amount, 2n); // remainder went to commission
    expect(commission + pendV + pendD).to.be.lte(amount);
    const c1 = w.staking.connect(d).claimRewards(v0a);
    await expect(c1).to.emit(w.staking, "RewardsClaimed").withArgs(da, v0a, pendD);
    await expect(c1).to.changeTokenBalance(w.token, d, pendD);
    await expect(w.staking.connect(d).claimRewards(v0a)).to.be.revertedWithCustomError(w.staking, "NothingToClaim");
    await expect(w.staking.connect(v0).claimCommission()).to.emit(w.staking, "CommissionClaimed").withArgs(v0a, commission);
    await expect(w.staking.connect(v0).claimCommission()).to.be.revertedWithCustomError(w.staking, "NothingToClaim");
  });

  it("a take raise waits one epoch of the validator's Brain when that is longer than the minimum delay", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n, minTakeDelay: 5n });
    const [, owner, v] = env.signers;
    const va = await v.getAddress();
    const brainId = await h.mintBrain(env, owner, { tempo: 60 });
    await h.registerValidator(env, brainId, v, 0, 100n * h.CBR);
    expect(await env.staking.minTakeDelay()).to.equal(5n);
    await (await env.staking.connect(v).setTake(0)).wait();
    const rc = await (await env.staking.connect(v).setTake(700)).wait();
    const at = BigInt(rc!.blockNumber) + 60n;
    await expect(rc).to.emit(env.staking, "TakeChangeScheduled").withArgs(va, 700, at);
    await h.mineTo(at - 1n);
    expect((await env.staking.takeInfo(va))[0]).to.equal(0n); // next block is at - 1: still the old take
    await h.mineTo(at);
    await hre.network.provider.send("evm_mine", []);
    expect(await env.staking.takeInfo(va)).to.deep.equal([700n, 700n, 0n]);
    expect((await env.staking.hotkeyInfo(va))[1]).to.equal(700n);
  });

  it("distribute charges the take in force when the epoch began; a decrease reaches unsettled epochs too", async () => {
    const env = await h.deployEnv({ unbondingBlocks: 10n, minTakeDelay: 5n });
    const [, owner, v] = env.signers;
    const va = await v.getAddress();
    const brainId = await h.mintBrain(env, owner, { tempo: 20 });
    await h.registerValidator(env, brainId, v, 0, 100n * h.CBR);
    await (await env.staking.connect(v).setTake(100)).wait();
    const raised = BigInt((await (await env.staking.connect(v).setTake(1_000)).wait())!.blockNumber) + 20n;
    const ca = await env.consensus.getAddress();
    await hre.network.provider.send("hardhat_impersonateAccount", [ca]);
    await hre.network.provider.send("hardhat_setBalance", [ca, "0xDE0B6B3A7640000"]);
    const cs = await hre.ethers.getSigner(ca);
    const takeOn = async (epochStart: bigint) => {
      await (await env.token.transfer(await env.staking.getAddress(), 10_000n)).wait();
      const rc = (await (await env.staking.connect(cs).distribute([va], [10_000n], epochStart)).wait())!;
      const sa = await env.staking.getAddress();
      return env.staking.interface.parseLog(rc.logs.find((l) => l.address === sa)!)!.args.take as bigint;
    };
    await h.mineTo(raised + 3n); // the raise is in force for epochs beginning now...
    expect(await takeOn(raised - 1n), "an epoch begun before the effective block").to.equal(100n);
    expect(await takeOn(raised), "an epoch begun at it").to.equal(1_000n);
    // ...a decrease applies to every epoch not yet settled, older ones included (never above their own take)
    await expect(env.staking.connect(v).setTake(500)).to.emit(env.staking, "TakeChanged").withArgs(va, 500);
    expect(await takeOn(raised - 1n)).to.equal(100n);
    expect(await takeOn(raised)).to.equal(500n);
    await expect(env.staking.connect(v).setTake(50)).to.emit(env.staking, "TakeChanged").withArgs(va, 50);
    expect(await takeOn(raised - 1n)).to.equal(50n);
    expect(await takeOn(raised)).to.equal(50n);
    // a second raise soon after the first came into force: epochs before it keep the take from before the first
    // (an epoch begun before the first may still be unsettled) ...
    const r1 = BigInt((await (await env.staking.connect(v).setTake(300)).wait())!.blockNumber) + 20n;
    await h.mineTo(r1 + 1n);
    const r2 = BigInt((await (await env.staking.connect(v).setTake(400)).wait())!.blockNumber) + 20n;
    expect(await takeOn(r1 - 1n)).to.equal(50n);
    expect(await takeOn(r1), "epochs begun after the first raise, before the second").to.equal(50n);
    expect(await takeOn(r2)).to.equal(400n);
    // ... but once three delays have passed since the first came into force, it is the take before the next one
    const r3at = r2 + 3n * 20n;
    await h.mineTo(r3at);
    const r3 = BigInt((await (await env.staking.connect(v).setTake(500)).wait())!.blockNumber) + 20n;
    expect(await takeOn(r3 - 1n)).to.equal(400n);
    expect(await takeOn(r3)).to.equal(500n);
    await hre.network.provider.send("hardhat_stopImpersonatingAccount", [ca]);
  });

  it("only Consensus distributes; wiring is one-time", async () => {
    const w = await loadFixture(worldFixture);
    const [x] = w.others;
    await expect(w.staking.connect(x).distribute([], [], 0n))
      .to.be.revertedWithCustomError(w.staking, "NotConsensus")
      .withArgs(await x.getAddress());
    const ca = await w.consensus.getAddress();
    await hre.network.provider.send("hardhat_impersonateAccount", [ca]);
    await hre.network.provider.send("hardhat_setBalance", [ca, "0xDE0B6B3A7640000"]);
    const cs = await hre.ethers.getSigner(ca);
    await expect(w.staking.connect(cs).distribute([ca], [], 0n)).to.be.revertedWithCustomError(w.staking, "LengthMismatch");
    // a hotkey with no stake keeps the whole amount as commission
    await w.token.transfer(await w.staking.getAddress(), 7n);
    await w.staking.connect(cs).distribute([await x.getAddress()], [7n], 0n);
    const [, , commission] = await w.staking.hotkeyInfo(await x.getAddress());
    expect(commission).to.equal(7n);
    await hre.network.provider.send("hardhat_stopImpersonatingAccount", [ca]);
    await expect(w.staking.wire(await w.neurons.getAddress(), ca)).to.be.revertedWithCustomError(w.staking, "AlreadyWired");
    const S = await hre.ethers.getContractFactory("Staking");
    const s = await S.deploy(await w.token.getAddress(), 5, 10);
    await expect(s.wire(hre.ethers.ZeroAddress, ca)).to.be.revertedWithCustomError(s, "ZeroAddress");
    await expect(s.wire(await w.neurons.getAddress(), ca)).to.emit(s, "Wired");
  });
});
