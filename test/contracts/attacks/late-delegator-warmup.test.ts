/**
 * Late delegator (issue 11 #2, delegator half, strictly): stake on a validator after an epoch began — here in the
 * first half of epoch e+1, before epoch e is settled — and collect e+1's dividends like a delegator who was in place
 * for the whole of e+1, diluting it. Rule: only stake made before the epoch's first block (the block voting stake is
 * read at) shares in that epoch's dividends; Consensus passes the epoch's start block to `Staking.distribute`.
 * Also: a hotkey's very first distribution pays the stake that was in place when the epoch began (it used to go to
 * the validator's commission because nothing was active yet).
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { world, nextEpoch, runEpoch, row, fund, pending } from "../fixture";

const ROWS = (k0: number) => [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], k0 + k));

describe("attack: late delegator (stake after the epoch began)", () => {
  it("stake made after an epoch began earns nothing for it, then its proportional share", async () => {
    const w = await world();
    const [early, late] = w.others;
    const v0 = await w.validators[0].getAddress();
    for (const x of [early, late]) await fund(w, x, 1_000n * h.CBR);
    await (await w.staking.connect(early).stake(v0, 400n * h.CBR)).wait(); // in place before epoch e began

    const e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(0)); // now in epoch e+1 (its reveal window for e), before e settles
    const [e1Start] = await w.consensus.windows(w.brainId, e + 1n);
    expect(BigInt(await hre.ethers.provider.getBlockNumber())).to.be.greaterThanOrEqual(e1Start);
    await (await w.staking.connect(late).stake(v0, 400n * h.CBR)).wait(); // after e+1 began
    await (await w.consensus.settle(w.brainId, e, 1000)).wait();
    expect(await pending(w, late, v0), "late delegator's dividends for epoch e").to.equal(0n);

    /** Runs and settles `epoch`; what it paid each delegator. */
    const paidFor = async (epoch: bigint, k0: number): Promise<[bigint, bigint]> => {
      await runEpoch(w, epoch, ROWS(k0));
      const before = [await pending(w, early, v0), await pending(w, late, v0)];
      await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
      return [(await pending(w, early, v0)) - before[0]!, (await pending(w, late, v0)) - before[1]!];
    };

    // epoch e+1: `late` arrived after it began, `early` was in place for all of it
    const [earlyE1, lateE1] = await paidFor(e + 1n, 10);
    console.log(`      epoch e+1: whole-epoch delegator ${earlyE1} wei, delegator that arrived mid-epoch ${lateE1} wei`);
    expect(earlyE1).to.be.greaterThan(0n);
    expect(lateE1, "dividends for the epoch it arrived in after its start").to.equal(0n);

    // epoch e+2: both were in place when it began and earn alike (same stake)
    const [earlyE2, lateE2] = await paidFor(e + 2n, 20);
    expect(earlyE2).to.be.greaterThan(0n);
    expect(lateE2).to.be.closeTo(earlyE2, 2n);
  });

  it("a hotkey's first distribution pays the stake in place when the epoch began, not only the commission", async () => {
    const w = await world();
    const [d] = w.others;
    const v = w.validators[0];
    const v0 = await v.getAddress();
    await fund(w, d, 1_000n * h.CBR);
    await (await w.staking.connect(d).stake(v0, 400n * h.CBR)).wait(); // v0 has 400 own + 400 delegated
    const e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(0));
    const paid = await h.settleRewards(w, w.brainId, e);
    const amount = paid.get(v0)!;
    expect(amount).to.be.greaterThan(0n);
    const [, takeBps, commission] = await w.staking.hotkeyInfo(v0);
    const take = (amount * BigInt(takeBps)) / 10_000n;
    const own = await pending(w, v, v0);
    const delegated = await pending(w, d, v0);
    console.log(`      first distribution ${amount} wei: commission ${commission}, own stake ${own}, delegator ${delegated}`);
    // the accumulator credits ⌊rest·1e18/active⌋ per wei and rounds the credited part up: the dust is < active/1e18 + 1
    const active = 800n * h.CBR;
    expect(commission, "the commission is the take (plus rounding dust)").to.be.closeTo(take, active / 10n ** 18n + 1n);
    expect(delegated).to.be.closeTo((amount - take) / 2n, active / 10n ** 18n);
    expect(own).to.be.closeTo((amount - take) / 2n, active / 10n ** 18n);
  });
});
