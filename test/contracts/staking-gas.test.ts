/**
 * Gas of Staking's hot paths, measured from receipts: stake (own, repeat, delegation), unstake, and `distribute` of
 * 32 hotkeys (the most one settlement pays). Prints the numbers (`STAKING_GAS=1`) and bounds them generously, so a
 * change that makes a hot path several times dearer fails here rather than in the settlement bench.
 */
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "./helpers";
import { worldFixture } from "./fixture";

async function gasOf(p: Promise<{ wait: () => Promise<{ gasUsed: bigint } | null> }>): Promise<bigint> {
  return (await (await p).wait())!.gasUsed;
}

describe("Staking gas", () => {
  it("stake, unstake and a 32-hotkey distribute stay within their budgets", async () => {
    const w = await loadFixture(worldFixture);
    const report: Record<string, bigint> = {};
    const [d] = w.others;
    const da = await d.getAddress();
    const v0 = await w.validators[0].getAddress();
    const stakingAddr = await w.staking.getAddress();
    await (await w.token.transfer(da, 1_000n * h.CBR)).wait();
    await (await w.token.connect(d).approve(stakingAddr, hre.ethers.MaxUint256)).wait();
    report.stakeOwnFirst = await gasOf(w.staking.connect(d).stake(da, 10n * h.CBR));
    report.stakeOwnAgain = await gasOf(w.staking.connect(d).stake(da, 10n * h.CBR));
    report.delegateFirst = await gasOf(w.staking.connect(d).stake(v0, 10n * h.CBR));
    report.delegateAgain = await gasOf(w.staking.connect(d).stake(v0, 10n * h.CBR));
    report.unstakeDelegation = await gasOf(w.staking.connect(d).unstake(v0, 5n * h.CBR));
    report.unstakeOwn = await gasOf(w.staking.connect(d).unstake(da, 5n * h.CBR));
    const v = w.validators[1];
    report.unstakeValidatorOwn = await gasOf(w.staking.connect(v).unstake(await v.getAddress(), 1n * h.CBR));

    // 32 hotkeys with own stake, paid by an impersonated Consensus.
    const hks: Signer[] = await h.wallets(32);
    const addrs = await Promise.all(hks.map((x) => x.getAddress()));
    for (const x of hks) await h.selfStake(w, x, 100n * h.CBR);
    const ca = await w.consensus.getAddress();
    await hre.network.provider.send("hardhat_impersonateAccount", [ca]);
    await hre.network.provider.send("hardhat_setBalance", [ca, "0xDE0B6B3A7640000"]);
    const cs = await hre.ethers.getSigner(ca);
    const amounts = addrs.map((_, k) => BigInt(k + 1) * 10n ** 17n);
    const total = amounts.reduce((a, b) => a + b, 0n);
    const pay = async () => {
      await (await w.token.transfer(stakingAddr, total)).wait();
      return gasOf(w.staking.connect(cs).distribute(addrs, amounts, BigInt(await hre.ethers.provider.getBlockNumber())));
    };
    report.distribute32First = await pay();
    report.distribute32Steady = await pay();
    for (const x of hks) await h.selfStake(w, x, 1n * h.CBR);
    report.distribute32AfterNewStake = await pay();
    await hre.network.provider.send("hardhat_stopImpersonatingAccount", [ca]);

    if (process.env.STAKING_GAS) console.log(JSON.stringify(Object.fromEntries(Object.entries(report).map(([k, x]) => [k, Number(x)])), null, 2));
    for (const k of ["stakeOwnFirst", "stakeOwnAgain", "delegateFirst", "delegateAgain"]) expect(report[k], k).to.be.lt(300_000n);
    for (const k of ["unstakeDelegation", "unstakeOwn", "unstakeValidatorOwn"]) expect(report[k], k).to.be.lt(260_000n);
    for (const k of ["distribute32First", "distribute32Steady", "distribute32AfterNewStake"]) {
      expect(report[k], k).to.be.lt(1_500_000n);
    }
  });
});
