/**
 * Commit copying: a validator that never scores a miner copies another validator's commit hash during the commit
 * window and replays its reveal calldata in the reveal window. The commit hash binds the chain, the Consensus
 * contract, the Brain, the epoch, the revealing hotkey and its uid, so the replay is refused and the copier earns
 * nothing. A seat that changes hands does not inherit its previous holder's commit. The subtler copier (it commits
 * the consensus revealed for the previous epoch) is measured: it must earn strictly less per unit of stake than an
 * honest validator when miner quality changes between epochs.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { world, nextEpoch, row } from "../fixture";

const CBR = h.CBR;

describe("attack: commit copying", () => {
  it("a copier replaying another validator's commit and reveal earns nothing", async () => {
    // validators 0..2 honest (stake 400/300/200); validator 3 (stake 100) copies validator 2 (stake 200)
    const w = await world();
    const c = w.consensus;
    const epoch = await nextEpoch(w);
    const honest = [0, 1, 2].map((k) => row([100, 90, 80, 70, 60, 50], k));
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await h.commitAll(w, w.brainId, epoch, w.validators.slice(0, 3), honest);
    const copied = await c.commitOf(w.brainId, epoch, 2);
    await (await c.connect(w.validators[3]).commit(w.brainId, epoch, copied)).wait();
    await h.gotoRevealWindow(w, w.brainId, epoch);
    await h.revealAll(w, w.brainId, epoch, w.validators.slice(0, 3), honest);
    const r = honest[2];
    let replayed = true;
    try {
      await (await c.connect(w.validators[3]).reveal(w.brainId, epoch, r.uids, r.weights, r.salt)).wait();
    } catch (err) {
      replayed = false;
      expect(String(err)).to.contain("CommitMismatch");
    }
    await h.gotoSettle(w, w.brainId, epoch);
    const paid = await h.settleRewards(w, w.brainId, epoch);
    const victim = paid.get(await w.validators[2].getAddress()) ?? 0n;
    const copier = paid.get(await w.validators[3].getAddress()) ?? 0n;
    // per unit of stake (victim 200 CBR, copier 100 CBR), in units of 1e-6 CBR per CBR staked
    const per = (x: bigint, stake: bigint) => (x * 10n ** 6n) / stake;
    expect(copier, `copier earned ${per(copier, 100n * CBR)} vs victim ${per(victim, 200n * CBR)} per stake`).to.equal(0n);
    expect(replayed, `the replayed reveal was accepted`).to.equal(false);
    expect(victim).to.be.greaterThan(0n);
  });

  it("a seat that changes hands does not inherit its previous holder's commit or reveal", async () => {
    const w = await world({ maxValidators: 4 });
    const c = w.consensus;
    const epoch = await nextEpoch(w);
    const rows = [0, 1, 2, 3].map((k) => row([100, 90, 80, 70, 60, 50], k));
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await h.commitAll(w, w.brainId, epoch, w.validators, rows);
    // validator 3 leaves; a newcomer takes uid 3 in the same epoch and replays the old holder's reveal
    await (await w.neurons.connect(w.validators[3]).deregister(w.brainId)).wait();
    const newcomer = w.others[0];
    await h.registerValidator(w, w.brainId, newcomer, 3, 100n * CBR);
    const [, , uid] = await w.neurons.uidOf(w.brainId, await newcomer.getAddress());
    expect(uid).to.equal(3n);
    expect(await c.commitOf(w.brainId, epoch, 3), "the new holder inherited the commit").to.equal(hre.ethers.ZeroHash);
    await h.gotoRevealWindow(w, w.brainId, epoch);
    await h.revealAll(w, w.brainId, epoch, w.validators.slice(0, 3), rows.slice(0, 3));
    const r = rows[3];
    await expect(c.connect(newcomer).reveal(w.brainId, epoch, r.uids, r.weights, r.salt)).to.be.revertedWithCustomError(
      c,
      "NoCommit",
    );
  });

  it("the previous-epoch-consensus copier earns strictly less per unit of stake than an honest validator", async () => {
    // 3 honest validators (400/300/200) score the miners' current quality; the copier (100) commits the consensus
    // revealed for the previous epoch (here: the honest weights of the previous epoch, which are that consensus).
    const w = await world();
    const quality = (e: number) => [0, 1, 2, 3, 4, 5].map((j) => 10 + ((j + e) % 6) * 40); // the best miner rotates
    let epoch = await nextEpoch(w);
    const addr = await Promise.all(w.validators.map((v) => v.getAddress()));
    const stake = [400n, 300n, 200n, 100n];
    const earned = [0n, 0n, 0n, 0n];
    let prev = quality(0);
    for (let round = 1; round <= 6; round++, epoch++) {
      const now = quality(round);
      const rows = [0, 1, 2].map((k) => row(now, round * 10 + k));
      rows.push(row(prev, round * 10 + 3));
      await h.gotoCommitWindow(w, w.brainId, epoch);
      await h.commitAll(w, w.brainId, epoch, w.validators, rows);
      await h.gotoRevealWindow(w, w.brainId, epoch);
      await h.revealAll(w, w.brainId, epoch, w.validators, rows);
      await h.gotoSettle(w, w.brainId, epoch);
      const paid = await h.settleRewards(w, w.brainId, epoch);
      if (round > 2) for (let i = 0; i < 4; i++) earned[i] += paid.get(addr[i]) ?? 0n; // after bonds warm up
      prev = now;
    }
    const perStake = earned.map((e, i) => Number(e) / Number(stake[i]));
    const honest = (perStake[0] + perStake[1] + perStake[2]) / 3;
    const ratio = perStake[3] / honest;
    console.log(`      previous-epoch copier: dividends per unit of stake = ${ratio.toFixed(4)} × an honest validator's`);
    expect(ratio).to.be.lessThan(1);
  });
});
