/**
 * Attack (issue 11 #9): forfeit griefing. Nobody revealed in epoch e; a griefer waits and settles e only once epoch
 * e+1 has ended and been revealed. Settling e forfeits emission — before the fix it forfeited everything the Brain
 * had accrued up to the settling block, including all of e+1, so e+1 was then paid for a block or two. The rule: only
 * the settled epoch's own accrual (blocks before its end, `Emission.forfeit(brainId, epochEnd)`) is forfeited.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { worldFixture, nextEpoch, row } from "../fixture";

const HONEST = [100, 90, 80, 70, 60, 50];

describe("attack: forfeit griefing", () => {
  it("settling late an epoch with no reveals forfeits only that epoch; the next one is paid its full share", async () => {
    const w = await loadFixture(worldFixture);
    const e = await nextEpoch(w);
    const next = e + 1n;
    const rows = [0, 1, 2, 3].map((k) => row(HONEST, k));
    // epoch e: validators commit, nobody reveals
    await h.gotoCommitWindow(w, w.brainId, e);
    await h.commitAll(w, w.brainId, e, w.validators, rows);
    // epoch e+1: honest commit and reveal
    await h.gotoCommitWindow(w, w.brainId, next);
    await h.commitAll(w, w.brainId, next, w.validators, rows);
    await h.gotoRevealWindow(w, w.brainId, next);
    await h.revealAll(w, w.brainId, next, w.validators, rows);
    // the griefer settles e only when e+1 is itself settleable
    await h.gotoSettle(w, w.brainId, next);
    await h.settleAll(w, w.brainId, e, 1000);
    await h.settleAll(w, w.brainId, next, 1000);
    const [forfeitLog] = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, e));
    const [paidLog] = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, next));
    const [tempo] = [(await w.brains.timing(w.brainId))[1]];
    const reward = await w.emission.rewardAt(await w.emission.genesisBlock());
    // one Brain holding all the weight: e+1's full share is its tempo blocks × the block reward
    const fullShare = BigInt(tempo) * reward;
    const paid = paidLog.args.emission;
    console.log(
      `      epoch e forfeited ${forfeitLog.args.emission} wei; epoch e+1 paid ${paid} wei of its full share ${fullShare}`,
    );
    expect(forfeitLog.args.minerPaid + forfeitLog.args.validatorPaid).to.equal(0n);
    expect(paid).to.be.lte(fullShare);
    expect(paid).to.be.gte(fullShare - 10n ** 9n); // accumulator rounding only
    expect(paidLog.args.minerPaid + paidLog.args.validatorPaid + paidLog.args.ownerPaid).to.equal(paid);
  });
});
