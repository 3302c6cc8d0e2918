/**
 * Seat change before settlement (issue 11 #5, second half): "work done by a hotkey is paid to that hotkey".
 * Attack/victim: a miner holds its seat for the whole of epoch e and the validators reveal its scores; a newcomer
 * prunes it (or it leaves) before `settle`. The newcomer must get nothing for e, and the pruned hotkey must get what
 * its revealed scores earned (claimable via `claimRemoved`) — not nobody. Same for a validator that revealed and then
 * lost its seat: its dividends go to the hotkey that revealed. A hotkey is never paid for an epoch it did not hold the
 * seat through, and a seat that changes hands several times before settlement pays its epoch once.
 */
import { expect } from "chai";
import type { Signer } from "ethers";
import * as h from "../helpers";
import { world, nextEpoch, row, type World } from "../fixture";

const SCORES = [100, 90, 80, 70, 60, 50];
const ROWS = (k0: number) => [0, 1, 2, 3].map((k) => row(SCORES, k0 + k));

/** Commits and reveals epoch `epoch` for all validators; leaves the chain inside the reveal window. */
async function workEpoch(w: World, epoch: bigint, k0 = 0): Promise<void> {
  await h.gotoCommitWindow(w, w.brainId, epoch);
  await h.commitAll(w, w.brainId, epoch, w.validators, ROWS(k0));
  await h.gotoRevealWindow(w, w.brainId, epoch);
  await h.revealAll(w, w.brainId, epoch, w.validators, ROWS(k0));
}

async function settle(w: World, epoch: bigint): Promise<void> {
  await h.gotoSettle(w, w.brainId, epoch);
  await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
}

async function uidOf(w: World, who: Signer): Promise<number> {
  const [registered, , uid] = await w.neurons.uidOf(w.brainId, await who.getAddress());
  expect(registered).to.equal(true);
  return Number(uid);
}

async function claimableOf(w: World, who: Signer): Promise<bigint> {
  return w.consensus.claimable(await who.getAddress());
}

const GWEI = 10n ** 9n;

describe("attack: seat change before settlement (work is paid to the hotkey that did it)", () => {
  it("a miner pruned between the reveals and settlement is paid its epoch; the newcomer gets nothing", async () => {
    // control: nobody is pruned
    const c = await world({ maxMiners: 6 });
    const ce = await nextEpoch(c);
    await workEpoch(c, ce);
    await settle(c, ce);
    const due = await c.consensus.minerPending(c.brainId, 0); // what miner 0's revealed scores earned

    const w = await world({ maxMiners: 6 });
    const epoch = await nextEpoch(w);
    await workEpoch(w, epoch);
    const victim = w.miners[0];
    const before = await claimableOf(w, victim);
    const newcomer = w.others[0];
    await h.registerMiner(w, w.brainId, newcomer, 99); // prunes seat 0 (all incentives 0: the oldest)
    expect(await uidOf(w, newcomer)).to.equal(0);
    await settle(w, epoch);
    const got = (await claimableOf(w, victim)) - before;
    console.log(`      pruned miner: due ${due} wei, paid ${got} wei; newcomer ${await w.consensus.minerPending(w.brainId, 0)}`);
    expect(due).to.be.greaterThan(0n);
    expect(got, "the pruned miner's pay for the epoch it worked (claimable)").to.be.closeTo(due, GWEI);
    expect(await w.consensus.minerPending(w.brainId, 0), "the newcomer's pay for that epoch").to.equal(0n);
    expect(await claimableOf(w, newcomer)).to.equal(0n);
    for (let j = 1; j < 6; j++) {
      expect(await w.consensus.minerPending(w.brainId, j)).to.equal(await c.consensus.minerPending(c.brainId, j));
    }
    await expect(w.consensus.connect(victim).claimRemoved()).to.changeTokenBalance(w.token, victim, got);
    // the validators' bonds on the seat served the pruned miner's epoch and do not carry over to the newcomer
    for (let i = 0; i < 4; i++) expect(await w.consensus.bond(w.brainId, i, 0), `validator ${i} bond on seat 0`).to.equal(0n);
    expect(await w.consensus.bond(w.brainId, 0, 1)).to.be.greaterThan(0n);
  });

  it("A→B→C on one seat before settlement pays A once and B and C nothing", async () => {
    const c = await world({ maxMiners: 6 });
    const ce = await nextEpoch(c);
    await workEpoch(c, ce);
    await settle(c, ce);
    const due = await c.consensus.minerPending(c.brainId, 0);

    const w = await world({ maxMiners: 6 });
    const epoch = await nextEpoch(w);
    await workEpoch(w, epoch);
    const [a, b, cc] = [w.miners[0], w.others[0], w.others[1]];
    await h.registerMiner(w, w.brainId, b, 90); // B prunes A (seat 0)
    await (await w.neurons.connect(b).deregister(w.brainId)).wait(); // B leaves
    await h.registerMiner(w, w.brainId, cc, 91); // C takes the free seat 0
    expect(await uidOf(w, cc)).to.equal(0);
    await settle(w, epoch);
    expect(await claimableOf(w, a)).to.be.closeTo(due, GWEI);
    expect(await claimableOf(w, b)).to.equal(0n);
    expect(await claimableOf(w, cc)).to.equal(0n);
    expect(await w.consensus.minerPending(w.brainId, 0)).to.equal(0n);
  });

  it("a hotkey is paid only for epochs it held the seat through: not for the epoch it left in, nor later", async () => {
    const w = await world({ maxMiners: 6 });
    const epoch = await nextEpoch(w);
    await workEpoch(w, epoch); // miners 0..5 held their seats through `epoch`; we are in epoch+1 now
    const leaver = w.miners[5];
    await (await w.neurons.connect(leaver).deregister(w.brainId)).wait(); // leaves during epoch+1
    const newcomer = w.others[0];
    await h.registerMiner(w, w.brainId, newcomer, 99); // takes seat 5 during epoch+1
    await settle(w, epoch);
    const afterE = await claimableOf(w, leaver);
    expect(afterE, "paid for the epoch it held the seat through").to.be.greaterThan(0n);
    // epoch+1: the validators score seat 5 (now the newcomer's); neither the leaver nor the newcomer held it through
    await workEpoch(w, epoch + 1n, 10);
    await settle(w, epoch + 1n);
    expect(await claimableOf(w, leaver), "the leaver is not paid for the epoch it left in").to.equal(afterE);
    expect(await w.consensus.minerPending(w.brainId, 5), "the newcomer is not paid for the epoch it joined in").to.equal(0n);
    // epoch+2: the newcomer held the seat through it and is paid
    await workEpoch(w, epoch + 2n, 20);
    await settle(w, epoch + 2n);
    expect(await w.consensus.minerPending(w.brainId, 5)).to.be.greaterThan(0n);
    expect(await claimableOf(w, leaver)).to.equal(afterE);
  });

  it("a validator that revealed and then lost its seat is paid its dividends; the newcomer is not", async () => {
    const dividendsOf = async (w: World, epoch: bigint) => {
      await h.gotoSettle(w, w.brainId, epoch);
      return h.settleRewards(w, w.brainId, epoch);
    };
    const c = await world();
    const ce = await nextEpoch(c);
    await workEpoch(c, ce);
    const control = await dividendsOf(c, ce);
    const v3 = await c.validators[3].getAddress();
    const due = control.get(v3) ?? 0n;

    const w = await world();
    const epoch = await nextEpoch(w);
    await workEpoch(w, epoch); // validator 3 revealed its weights for `epoch`
    await (await w.neurons.connect(w.validators[3]).deregister(w.brainId)).wait();
    const newcomer = w.others[0];
    await h.registerValidator(w, w.brainId, newcomer, 7, 500n * h.CBR); // takes seat 3
    expect(await uidOf(w, newcomer)).to.equal(3);
    const paid = await dividendsOf(w, epoch);
    const got = paid.get(await w.validators[3].getAddress()) ?? 0n;
    console.log(`      validator that revealed then left: due ${due} wei, paid ${got} wei`);
    expect(due).to.be.greaterThan(0n);
    expect(got, "dividends of the hotkey that revealed").to.equal(due);
    expect(paid.get(await newcomer.getAddress()) ?? 0n, "the newcomer's dividends for that epoch").to.equal(0n);
    for (let i = 0; i < 3; i++) {
      const a = await w.validators[i].getAddress();
      expect(paid.get(a)).to.equal(control.get(a));
    }
    expect((await w.consensus.validatorDividends(w.brainId))[3], "the newcomer's seat shows no dividends").to.equal(0n);
    // the left holder's bonds served its dividends and were reset: the newcomer inherits none
    for (let j = 0; j < 6; j++) expect(await w.consensus.bond(w.brainId, 3, j)).to.equal(0n);
    expect(await w.consensus.bond(w.brainId, 2, 0)).to.be.greaterThan(0n);
  });

  it("a kept reveal whose epoch is skipped leaves no bonds to the seat's new holder", async () => {
    // In both worlds validator 3 leaves during epoch e+1 and a newcomer takes seat 3; epoch e is never settled (e+1
    // settles first). In `kept` validator 3 had revealed e (its bonds stay on the seat for e's settlement), in
    // `fresh` it had not. The newcomer's bonds after e+1 must be the same: it inherits nothing.
    const bondsAfter = async (revealFirst: boolean) => {
      const w = await world();
      const epoch = await nextEpoch(w);
      // a first settled epoch gives every validator bonds
      await workEpoch(w, epoch, 0);
      await settle(w, epoch);
      const e = epoch + 1n;
      const newcomer = w.others[0];
      await h.selfStake(w, newcomer, 500n * h.CBR);
      await h.gotoCommitWindow(w, w.brainId, e);
      await h.commitAll(w, w.brainId, e, w.validators, ROWS(10));
      await h.gotoRevealWindow(w, w.brainId, e);
      if (revealFirst) await h.revealAll(w, w.brainId, e, w.validators, ROWS(10));
      await (await w.neurons.connect(w.validators[3]).deregister(w.brainId)).wait();
      await (await w.neurons.connect(newcomer).register(w.brainId, h.ROLE_VALIDATOR, h.peerIdOf(1007), h.addrsOf(1007))).wait();
      expect(await uidOf(w, newcomer)).to.equal(3);
      // epochs e+1 and e+2: everyone (newcomer included) commits and reveals — the newcomer, seated during e+1, votes
      // from e+2 on; nobody settles e before it expires (e+2's reveal window), then e+1 and e+2 settle (e is skipped)
      const vs = [...w.validators.slice(0, 3), newcomer];
      for (const f of [e + 1n, e + 2n]) {
        await h.gotoCommitWindow(w, w.brainId, f);
        await h.commitAll(w, w.brainId, f, vs, ROWS(20));
        await h.gotoRevealWindow(w, w.brainId, f);
        await h.revealAll(w, w.brainId, f, vs, ROWS(20));
      }
      await h.gotoSettle(w, w.brainId, e + 2n);
      await expect(w.consensus.settle(w.brainId, e, 1000)).to.be.revertedWithCustomError(w.consensus, "EpochExpired");
      for (const f of [e + 1n, e + 2n]) await (await w.consensus.settle(w.brainId, f, 1000)).wait();
      return Promise.all([0, 1, 2, 3, 4, 5].map((j) => w.consensus.bond(w.brainId, 3, j)));
    };
    const kept = await bondsAfter(true);
    const fresh = await bondsAfter(false);
    expect(kept).to.deep.equal(fresh);
    expect(fresh[0]).to.be.greaterThan(0n);
  });
});
