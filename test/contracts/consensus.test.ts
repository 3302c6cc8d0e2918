import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { worldFixture, nextEpoch, runEpoch, row, type World } from "./fixture";

const HONEST = [100, 90, 80, 70, 60, 50];

async function settledEvent(w: World, epoch: bigint) {
  const logs = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch));
  expect(logs.length).to.equal(1);
  return logs[0].args;
}

describe("Consensus: commit, reveal, settle", () => {
  it("settles an honest epoch and pays exactly its emission (miners + validators + owner)", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    const rows = [0, 1, 2, 3].map((k) => row(HONEST, k));
    await runEpoch(w, epoch, rows);
    const ownerAddr = await w.owner.getAddress();
    const before = {
      consensus: await w.token.balanceOf(await w.consensus.getAddress()),
      staking: await w.token.balanceOf(await w.staking.getAddress()),
      owner: await w.token.balanceOf(ownerAddr),
      supply: await w.token.totalSupply(),
    };
    const tx = w.consensus.settle(w.brainId, epoch, 1000);
    await expect(tx).to.emit(w.consensus, "SettlementStarted").withArgs(w.brainId, epoch, 0b1111);
    await expect(tx).to.emit(w.consensus, "EpochSettled");
    await expect(tx).to.emit(w.emission, "Released");
    await expect(tx).to.emit(w.staking, "RewardsDistributed");
    const ev = await settledEvent(w, epoch);
    expect(ev.emission).to.be.greaterThan(0n);
    expect(ev.minerPaid + ev.validatorPaid + ev.ownerPaid).to.equal(ev.emission);
    const after = {
      consensus: await w.token.balanceOf(await w.consensus.getAddress()),
      staking: await w.token.balanceOf(await w.staking.getAddress()),
      owner: await w.token.balanceOf(ownerAddr),
      supply: await w.token.totalSupply(),
    };
    expect(after.supply - before.supply).to.equal(ev.emission);
    expect(after.consensus - before.consensus).to.equal(ev.minerPaid);
    expect(after.staking - before.staking).to.equal(ev.validatorPaid);
    expect(after.owner - before.owner).to.equal(ev.ownerPaid);
    let pending = 0n;
    for (let j = 0; j < 6; j++) pending += await w.consensus.minerPending(w.brainId, j);
    expect(pending).to.equal(ev.minerPaid);
    // incentives follow the weights: miner 0 highest, miner 5 lowest
    const inc = await w.consensus.minerIncentives(w.brainId);
    for (let j = 1; j < 6; j++) expect(inc[j]).to.be.lessThan(inc[j - 1]);
    // idempotent: a second settle of the same epoch is refused and pays nothing
    await expect(w.consensus.settle(w.brainId, epoch, 1000))
      .to.be.revertedWithCustomError(w.consensus, "EpochAlreadySettled")
      .withArgs(epoch);
  });

  it("a dishonest validator earns less than honest ones and its favourite gains no incentive", async () => {
    const w = await loadFixture(worldFixture);
    // validators 0..2 honest (stake 400/300/200), validator 3 (stake 100) puts everything on miner 5
    const rows = [row(HONEST.map((x, j) => (j === 5 ? 0 : x)), 0), row(HONEST.map((x, j) => (j === 5 ? 0 : x)), 1)];
    rows.push(row(HONEST.map((x, j) => (j === 5 ? 0 : x)), 2));
    rows.push(row([0, 0, 0, 0, 0, 65535], 3));
    let epoch = await nextEpoch(w);
    for (let round = 0; round < 2; round++, epoch++) {
      await runEpoch(w, epoch, rows.map((r) => ({ ...r, salt: h.salt(round * 10 + Number(r.salt.slice(-2))) })));
      await w.consensus.settle(w.brainId, epoch, 1000);
    }
    const inc = await w.consensus.minerIncentives(w.brainId);
    expect(inc[5]).to.equal(0n);
    expect(await w.consensus.minerPending(w.brainId, 5)).to.equal(0n);
    const div = await w.consensus.validatorDividends(w.brainId);
    expect(div[3]).to.be.lessThan(div[2]);
    expect(div[3]).to.equal(0n);
    expect(await w.consensus.bond(w.brainId, 3, 5)).to.equal(0n);
  });

  it("a validator that commits but does not reveal earns nothing that epoch", async () => {
    const w = await loadFixture(worldFixture);
    const rows = [0, 1, 2, 3].map((k) => row(HONEST, k));
    let epoch = await nextEpoch(w);
    await runEpoch(w, epoch, rows);
    await w.consensus.settle(w.brainId, epoch, 1000);
    expect(await w.consensus.bond(w.brainId, 3, 0)).to.be.greaterThan(0n);
    epoch += 1n;
    const v3 = await w.validators[3].getAddress();
    const [, , commissionBefore] = await w.staking.hotkeyInfo(v3);
    const [, pendingBefore] = await w.staking.positionOf(v3, v3);
    await runEpoch(w, epoch, rows.map((r, k) => ({ ...r, salt: h.salt(50 + k) })), [0, 1, 2]);
    expect(await w.consensus.commitOf(w.brainId, epoch, 3)).to.not.equal(hre.ethers.ZeroHash);
    const tx = w.consensus.settle(w.brainId, epoch, 1000);
    await expect(tx).to.emit(w.consensus, "SettlementStarted").withArgs(w.brainId, epoch, 0b0111);
    const [, , commissionAfter] = await w.staking.hotkeyInfo(v3);
    const [, pendingAfter] = await w.staking.positionOf(v3, v3);
    expect(commissionAfter).to.equal(commissionBefore);
    expect(pendingAfter).to.equal(pendingBefore);
    expect((await w.consensus.validatorDividends(w.brainId))[3]).to.equal(0n);
  });

  it("a validator whose voting stake fell below the Brain's minimum neither votes nor earns", async () => {
    const w = await loadFixture(worldFixture);
    // validator 3 registered with the minimum (100 CBR) and unstakes half before the epoch begins
    const v3 = await w.validators[3].getAddress();
    await (await w.staking.connect(w.validators[3]).unstake(v3, 50n * h.CBR)).wait();
    const epoch = await nextEpoch(w);
    // it scores like the others: without the rule it would earn its stake share of the dividends
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row(HONEST, k)));
    const paid = await h.settleRewards(w, w.brainId, epoch);
    expect(paid.get(v3) ?? 0n).to.equal(0n);
    expect(paid.get(await w.validators[0].getAddress())).to.be.greaterThan(0n);
    const [st] = await w.consensus.settlementState(w.brainId);
    expect(st.revealedMask).to.equal(0b0111n);
  });

  it("chunked settlement gives the same result as one transaction, with progress events", async () => {
    const rows = [0, 1, 2, 3].map((k) => row([5, 1000, 7, 300, 9000, 1], k));
    const run = async (steps: number) => {
      const w = await loadFixture(worldFixture);
      const epoch = await nextEpoch(w);
      await runEpoch(w, epoch, rows);
      const gas = await h.settleAll(w, w.brainId, epoch, steps);
      const pending = [];
      for (let j = 0; j < 6; j++) pending.push(await w.consensus.minerPending(w.brainId, j));
      return { gas, pending, inc: await w.consensus.minerIncentives(w.brainId), w, epoch };
    };
    const one = await run(10_000);
    const chunked = await run(16);
    expect(one.gas.length).to.equal(1);
    expect(chunked.gas.length).to.equal(6); // 3 ranking groups (the 3rd finalizes) + 3 payment groups
    // emission accrues per block, so the chunked run (more blocks) pays more in total; the split is identical
    expect([...chunked.inc]).to.deep.equal([...one.inc]);
    const total = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
    for (let j = 0; j < 6; j++) {
      // the miner ledger counts whole gwei: each amount is within 1 gwei of its exact share
      const tol = 2n * 10n ** 9n * (total(one.pending) + total(chunked.pending));
      expect(chunked.pending[j] * total(one.pending)).to.be.closeTo(one.pending[j] * total(chunked.pending), tol);
    }
  });

  it("reports progress and refuses another epoch or seat changes while a settlement is in progress", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row(HONEST, k)));
    await expect(w.consensus.settle(w.brainId, epoch, 16))
      .to.emit(w.consensus, "SettlementProgress")
      .withArgs(w.brainId, epoch, 1, 16);
    const later = epoch + 1n;
    await h.gotoSettle(w, w.brainId, later);
    await expect(w.consensus.settle(w.brainId, later, 16))
      .to.be.revertedWithCustomError(w.consensus, "SettlementInProgress")
      .withArgs(w.brainId, epoch);
    const newcomer = w.others[0];
    await expect(
      w.neurons.connect(newcomer).register(w.brainId, h.ROLE_MINER, h.peerIdOf(99), h.addrsOf(99)),
    ).to.be.revertedWithCustomError(w.consensus, "SettlementInProgress");
    // a settlement begun before its epoch expired keeps its weights: the reveals of epoch + 2, which share their
    // buffer, wait for it to end
    const e2 = epoch + 2n;
    const rows2 = [0, 1, 2, 3].map((k) => row(HONEST, 20 + k));
    await h.gotoCommitWindow(w, w.brainId, e2);
    await h.commitAll(w, w.brainId, e2, w.validators, rows2);
    await h.gotoRevealWindow(w, w.brainId, e2);
    const r0 = rows2[0];
    await expect(w.consensus.connect(w.validators[0]).reveal(w.brainId, e2, r0.uids, r0.weights, r0.salt))
      .to.be.revertedWithCustomError(w.consensus, "SettlementInProgress")
      .withArgs(w.brainId, epoch);
    await h.settleAll(w, w.brainId, epoch, 1000); // past its expiry, a begun settlement still finishes
    await h.revealAll(w, w.brainId, e2, w.validators, rows2);
    // skipping ahead is allowed once idle; the older epoch can no longer be settled
    await w.consensus.settle(w.brainId, later, 1000);
    await expect(w.consensus.settle(w.brainId, epoch, 1)).to.be.revertedWithCustomError(
      w.consensus,
      "EpochAlreadySettled",
    );
  });

  it("returns to the emission schedule the emission of an epoch in which nobody revealed", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    await h.gotoSettle(w, w.brainId, epoch);
    const supply = await w.token.totalSupply();
    const tx = w.consensus.settle(w.brainId, epoch, 1000);
    await expect(tx).to.emit(w.emission, "Recycled");
    await expect(tx).to.emit(w.consensus, "EpochSettled").withArgs(w.brainId, epoch, (x: bigint) => x > 0n, 0, 0, 0);
    expect(await w.token.totalSupply()).to.equal(supply);
  });

  it("rejects bad commits, reveals and settle calls with custom errors", async () => {
    const w = await loadFixture(worldFixture);
    const c = w.consensus;
    const epoch = await nextEpoch(w);
    const v0 = w.validators[0];
    const r = row(HONEST, 0);
    const hash = h.commitHash(await h.bindingOf(w, w.brainId, v0), w.brainId, epoch, r.uids, r.weights, r.salt);
    await expect(c.connect(w.miners[0]).commit(w.brainId, epoch, hash))
      .to.be.revertedWithCustomError(c, "NotValidator")
      .withArgs(w.brainId, await w.miners[0].getAddress());
    await expect(c.connect(v0).commit(w.brainId, epoch, hash)).to.be.revertedWithCustomError(c, "CommitWindowClosed");
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await expect(c.connect(v0).commit(w.brainId, epoch, hash))
      .to.emit(c, "WeightsCommitted")
      .withArgs(w.brainId, epoch, 0, await v0.getAddress(), hash);
    await expect(c.connect(v0).reveal(w.brainId, epoch, r.uids, r.weights, r.salt)).to.be.revertedWithCustomError(
      c,
      "RevealWindowClosed",
    );
    await expect(c.settle(w.brainId, epoch, 1)).to.be.revertedWithCustomError(c, "EpochNotSettleable");
    await h.gotoRevealWindow(w, w.brainId, epoch);
    await expect(c.connect(w.validators[1]).reveal(w.brainId, epoch, r.uids, r.weights, r.salt))
      .to.be.revertedWithCustomError(c, "NoCommit")
      .withArgs(epoch, 1);
    await expect(
      c.connect(v0).reveal(w.brainId, epoch, r.uids, r.weights, h.salt(77)),
    ).to.be.revertedWithCustomError(c, "CommitMismatch");
    await expect(c.connect(v0).reveal(w.brainId, epoch, r.uids, r.weights, r.salt))
      .to.emit(c, "WeightsRevealed")
      .withArgs(w.brainId, epoch, 0, await v0.getAddress());
    await expect(c.connect(v0).reveal(w.brainId, epoch, r.uids, r.weights, r.salt))
      .to.be.revertedWithCustomError(c, "AlreadyRevealed")
      .withArgs(epoch, 0);
    expect(await c.revealedWeight(w.brainId, epoch, 0, 0)).to.equal((100n * 65535n) / 450n);
    // invalid weight vectors (each committed first so that only the content is wrong)
    const bad: h.Reveal[] = [
      { uids: [], weights: [], salt: h.salt(1) },
      { uids: [0, 1], weights: [1], salt: h.salt(2) },
      { uids: [1, 0], weights: [1, 1], salt: h.salt(3) },
      { uids: [0, 40], weights: [1, 1], salt: h.salt(4) },
      { uids: [0, 1], weights: [0, 0], salt: h.salt(5) },
    ];
    const v1 = w.validators[1];
    // each bad vector needs its own matching commit: validators 0..3 take 4 cases in epoch e2, the 5th is in e3
    const e2 = epoch + 1n;
    await h.gotoCommitWindow(w, w.brainId, e2);
    for (let k = 0; k < 4; k++) {
      const b = bad[k];
      await c.connect(w.validators[k]).commit(w.brainId, e2, h.commitHash(await h.bindingOf(w, w.brainId, w.validators[k]), w.brainId, e2, b.uids, b.weights, b.salt));
    }
    await h.gotoRevealWindow(w, w.brainId, e2);
    for (let k = 0; k < 4; k++) {
      const b = bad[k];
      await expect(
        c.connect(w.validators[k]).reveal(w.brainId, e2, b.uids, b.weights, b.salt),
      ).to.be.revertedWithCustomError(c, "InvalidWeights");
    }
    const e3 = e2 + 1n;
    await h.gotoCommitWindow(w, w.brainId, e3);
    const b = bad[4];
    await c.connect(v1).commit(w.brainId, e3, h.commitHash(await h.bindingOf(w, w.brainId, v1), w.brainId, e3, b.uids, b.weights, b.salt));
    await h.gotoRevealWindow(w, w.brainId, e3);
    await expect(c.connect(v1).reveal(w.brainId, e3, b.uids, b.weights, b.salt)).to.be.revertedWithCustomError(
      c,
      "InvalidWeights",
    );
    await expect(c.settle(w.brainId, epoch, 0)).to.be.revertedWithCustomError(c, "InvalidChunk");
    await expect(c.settle(99, epoch, 1)).to.be.revertedWithCustomError(c, "UnknownBrain").withArgs(99);
  });

  it("only the NeuronRegistry reaches the seat hooks", async () => {
    const w = await loadFixture(worldFixture);
    const stranger = w.others[0];
    await expect(w.consensus.connect(stranger).onNeuronAdded(w.brainId, 0, 0))
      .to.be.revertedWithCustomError(w.consensus, "NotNeuronRegistry")
      .withArgs(await stranger.getAddress());
    await expect(
      w.consensus.connect(stranger).onNeuronRemoved(w.brainId, 0, 0, await stranger.getAddress(), [0, 0]),
    ).to.be.revertedWithCustomError(w.consensus, "NotNeuronRegistry");
  });

  it("miners claim their incentive; freed seats keep rewards claimable by the old hotkey", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row(HONEST, k)));
    await w.consensus.settle(w.brainId, epoch, 1000);
    const m0 = w.miners[0];
    const m0a = await m0.getAddress();
    const p0 = await w.consensus.minerPending(w.brainId, 0);
    expect(p0).to.be.greaterThan(0n);
    await expect(w.consensus.connect(w.miners[1]).claimMiner(w.brainId, 0))
      .to.be.revertedWithCustomError(w.consensus, "NotMinerHotkey")
      .withArgs(w.brainId, 0, await w.miners[1].getAddress());
    const claim = w.consensus.connect(m0).claimMiner(w.brainId, 0);
    await expect(claim).to.emit(w.consensus, "MinerRewardClaimed").withArgs(w.brainId, 0, m0a, p0);
    await expect(claim).to.changeTokenBalance(w.token, m0, p0);
    await expect(w.consensus.connect(m0).claimMiner(w.brainId, 0)).to.be.revertedWithCustomError(
      w.consensus,
      "NothingToClaim",
    );
    const m1 = w.miners[1];
    const p1 = await w.consensus.minerPending(w.brainId, 1);
    await w.neurons.connect(m1).deregister(w.brainId);
    expect(await w.consensus.claimable(await m1.getAddress())).to.equal(p1);
    expect(await w.consensus.minerPending(w.brainId, 1)).to.equal(0n);
    await expect(w.consensus.connect(m1).claimRemoved())
      .to.emit(w.consensus, "RemovedRewardClaimed")
      .withArgs(await m1.getAddress(), p1);
    await expect(w.consensus.connect(m1).claimRemoved()).to.be.revertedWithCustomError(w.consensus, "NothingToClaim");
  });

  it("exposes epoch windows derived from the Brain's genesis and tempo", async () => {
    const w = await loadFixture(worldFixture);
    const b = await w.brains.brain(w.brainId);
    const [from, rFrom, rTo] = await w.consensus.windows(w.brainId, 3);
    expect(from).to.equal(b.genesisBlock + 3n * 40n);
    expect(rFrom).to.equal(from + 40n);
    expect(rTo).to.equal(rFrom + 20n);
    expect(await w.consensus.epochAt(w.brainId, from)).to.equal(3n);
    expect(await w.consensus.epochAt(w.brainId, from - 1n)).to.equal(2n);
    expect(await w.consensus.epochAt(w.brainId, 0)).to.equal(0n);
  });
});
