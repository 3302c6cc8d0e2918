/**
 * Attack (issue 11 #8): advertise a 0% take, raise it to 20% in the block before settlement, charge delegators 20%.
 * Defence: a take increase applies only to epochs that begin after max(one epoch of the validator's Brain,
 * Staking.minTakeDelay) blocks (visible in `takeInfo`); a settlement inside the delay pays at the old take; decreases
 * apply at once.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import * as h from "../helpers";
import { worldFixture, nextEpoch, runEpoch, row, type World } from "../fixture";

const ROWS = (k0: number) => [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], k0 + k));

function distributed(w: World, rc: ContractTransactionReceipt, hotkey: string): { amount: bigint; take: bigint } {
  for (const l of rc.logs) {
    try {
      const p = w.staking.interface.parseLog(l);
      if (p?.name === "RewardsDistributed" && p.args.hotkey === hotkey) return { amount: p.args.amount, take: p.args.take };
    } catch {
      /* other contract's log */
    }
  }
  throw new Error("no RewardsDistributed for hotkey");
}

describe("attack: take raised before settlement", () => {
  it("a raise applies only after the delay; a settlement inside it pays at the old take", async () => {
    const w = await loadFixture(worldFixture);
    const v = w.validators[0];
    const va = await v.getAddress();
    await (await w.staking.connect(v).setTake(0)).wait(); // advertised: 0%
    let e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(0));
    const raise = await (await w.staking.connect(v).setTake(2_000)).wait(); // the block before settlement
    const rc = (await (await w.consensus.settle(w.brainId, e, 1000)).wait())!;
    const paid = distributed(w, rc, va);
    console.log(`      dividends ${paid.amount} wei, take charged ${paid.take} wei (advertised 0%)`);
    expect(paid.amount).to.be.gt(0n);
    expect(paid.take, "take charged in the settlement right after the raise").to.equal(0n);

    const [current, pendingTake, effectiveBlock] = await w.staking.takeInfo(va);
    const tempo = 40n;
    const minDelay = await w.staking.minTakeDelay();
    const raisedAt = BigInt(raise!.blockNumber);
    expect(current).to.equal(0n);
    expect(pendingTake).to.equal(2_000n);
    expect(effectiveBlock).to.equal(raisedAt + (minDelay > tempo ? minDelay : tempo));

    // the raise applies to the epochs that begin after the delay (announced by TakeChangeScheduled)
    await h.mineTo(effectiveBlock);
    e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(10));
    const tx = w.consensus.settle(w.brainId, e, 1000);
    const later = distributed(w, (await (await tx).wait())!, va);
    expect(later.take).to.equal((later.amount * 2_000n) / 10_000n);
    expect((await w.staking.takeInfo(va))[0]).to.equal(2_000n);

    // a decrease is immediate and cancels nothing it should not
    await expect(w.staking.connect(v).setTake(500)).to.emit(w.staking, "TakeChanged").withArgs(va, 500);
    const [c2, p2, b2] = await w.staking.takeInfo(va);
    expect([c2, p2, b2]).to.deep.equal([500n, 500n, 0n]);
  });

  it("a scheduled raise is announced; lowering while a raise is pending cancels the raise", async () => {
    const w = await loadFixture(worldFixture);
    const v = w.validators[1];
    const va = await v.getAddress();
    await (await w.staking.connect(v).setTake(100)).wait();
    const tx = w.staking.connect(v).setTake(1_500);
    await expect(tx).to.emit(w.staking, "TakeChangeScheduled");
    expect((await w.staking.takeInfo(va))[0]).to.equal(100n);
    await expect(w.staking.connect(v).setTake(50)).to.emit(w.staking, "TakeChanged").withArgs(va, 50);
    const [c, p, b] = await w.staking.takeInfo(va);
    expect([c, p, b]).to.deep.equal([50n, 50n, 0n]);
    // only a validator can schedule a raise (its Brain's tempo sets the delay); a non-validator may only lower
    const [x] = w.others;
    await expect(w.staking.connect(x).setTake(0)).to.emit(w.staking, "TakeChanged"); // from the default 18%: a decrease
    await expect(w.staking.connect(x).setTake(100))
      .to.be.revertedWithCustomError(w.staking, "NotAValidator")
      .withArgs(await x.getAddress());
  });
});
