/**
 * Attack (issue 11 #2, delegator half): stake on a validator one block before `settle` and collect that epoch's
 * dividends like a delegator who was staked the whole epoch. Defence: only stake made before an epoch began shares in
 * that epoch's dividends (Consensus passes the epoch's start block to `Staking.distribute`); later stake is warming.
 * Unstaking takes warming stake first, exactly. (The vote half — the flash validator's miner — is Consensus's stake-at-epoch-start.)
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { worldFixture, nextEpoch, runEpoch, row, fund, pending } from "../fixture";

const ROWS = (k0: number) => [0, 1, 2, 3].map((k) => row([10, 20, 30, 40, 50, 60], k0 + k));

describe("attack: flash stake (delegators)", () => {
  it("a delegator staking one block before settlement earns nothing for that epoch; a whole-epoch delegator earns", async () => {
    const w = await loadFixture(worldFixture);
    const [early, late, flash] = w.others;
    const v0 = await w.validators[0].getAddress();
    for (const x of [early, late, flash]) await fund(w, x, 2_000n * h.CBR);
    await (await w.staking.connect(early).stake(v0, 400n * h.CBR)).wait();

    // Epoch e0: `early` is staked for the whole epoch; its settlement ends early's warm-up.
    let e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(0));
    await (await w.consensus.settle(w.brainId, e, 1000)).wait();

    // Epoch e1: `late` and `flash` stake in the block before settlement; `flash` unstakes right after it.
    e += 1n;
    await runEpoch(w, e, ROWS(10));
    const earlyBefore = await pending(w, early, v0);
    await (await w.staking.connect(late).stake(v0, 400n * h.CBR)).wait();
    await (await w.staking.connect(flash).stake(v0, 4_000n * h.CBR / 4n)).wait();
    await (await w.consensus.settle(w.brainId, e, 1000)).wait();
    await (await w.staking.connect(flash).unstake(v0, 1_000n * h.CBR)).wait();
    const earlyEarned = (await pending(w, early, v0)) - earlyBefore;
    const lateEarned = await pending(w, late, v0);
    const flashEarned = await pending(w, flash, v0);
    console.log(`      epoch ${e}: whole-epoch delegator ${earlyEarned} wei, late delegator ${lateEarned}, flash ${flashEarned}`);
    expect(earlyEarned).to.be.gt(0n);
    expect(lateEarned, "late delegator's dividends for the epoch it joined at the last block").to.equal(0n);
    expect(flashEarned, "flash delegator's dividends").to.equal(0n);

    // Epoch e2: `late` staked after e2 began (in its first half, before e1 settled): nothing for e2 either.
    e += 1n;
    await runEpoch(w, e, ROWS(20));
    let eB = await pending(w, early, v0);
    let lB = await pending(w, late, v0);
    await (await w.consensus.settle(w.brainId, e, 1000)).wait();
    expect((await pending(w, early, v0)) - eB).to.be.gt(0n);
    expect((await pending(w, late, v0)) - lB, "late delegator's dividends for the epoch it arrived in").to.equal(0n);

    // Epoch e3: `late` was in place when it began and earns exactly like `early` (same amount).
    // It also tops up by 100 in the block before settlement and takes those 100 out again: warming goes first.
    e += 1n;
    await runEpoch(w, e, ROWS(30));
    eB = await pending(w, early, v0);
    lB = await pending(w, late, v0);
    await (await w.staking.connect(late).stake(v0, 100n * h.CBR)).wait();
    await (await w.staking.connect(late).unstake(v0, 100n * h.CBR)).wait();
    await (await w.consensus.settle(w.brainId, e, 1000)).wait();
    const eE = (await pending(w, early, v0)) - eB;
    const lE = (await pending(w, late, v0)) - lB;
    expect(eE).to.be.gt(0n);
    expect(lE).to.be.closeTo(eE, 2n);
    expect((await w.staking.positionOf(await late.getAddress(), v0))[0]).to.equal(400n * h.CBR);
  });
});
