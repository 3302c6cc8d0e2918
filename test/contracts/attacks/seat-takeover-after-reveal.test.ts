/**
 * Seat takeover after the reveal: the miner seats are full; between the reveals and settlement a newcomer registers
 * and prunes a seat whose miner did the work the validators revealed. The newcomer's seat was taken after the epoch
 * began, so it gets no rank and no pay for that epoch.
 */
import { expect } from "chai";
import * as h from "../helpers";
import { world, nextEpoch, row } from "../fixture";

describe("attack: seat takeover after the reveal", () => {
  it("a newcomer pruning a seat between reveals and settlement is credited nothing", async () => {
    const w = await world({ maxMiners: 6 }); // the 6 miner seats are full
    const epoch = await nextEpoch(w);
    const rows = [0, 1, 2, 3].map((k) => row([100, 90, 80, 70, 60, 50], k));
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await h.commitAll(w, w.brainId, epoch, w.validators, rows);
    await h.gotoRevealWindow(w, w.brainId, epoch);
    await h.revealAll(w, w.brainId, epoch, w.validators, rows);
    const newcomer = w.others[0];
    await h.registerMiner(w, w.brainId, newcomer, 99); // prunes a seat (all incentives are still 0: the oldest)
    const [registered, , uid] = await w.neurons.uidOf(w.brainId, await newcomer.getAddress());
    expect(registered).to.equal(true);
    await h.gotoSettle(w, w.brainId, epoch);
    await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
    const got = await w.consensus.minerPending(w.brainId, Number(uid));
    const inc = (await w.consensus.minerIncentives(w.brainId))[Number(uid)];
    expect(got, `the newcomer on seat ${uid} was credited ${Number(got) / 1e18} CBR (incentive ${inc}/65535)`).to.equal(0n);
    expect(inc).to.equal(0n);
    // the other miners were paid
    expect(await w.consensus.minerPending(w.brainId, (Number(uid) + 1) % 6)).to.be.greaterThan(0n);
  });

  it("seats taken in each later epoch stay unpaid for an epoch settled late, while the ring reuses older entries", async () => {
    const w = await world({ maxMiners: 12 }); // miners 0..5 seated before the epoch
    const epoch = await nextEpoch(w);
    const weights = new Array(12).fill(100);
    const rows = [0, 1, 2, 3].map((k) => row(weights, k)); // weight on every seat, taken or not
    await h.gotoCommitWindow(w, w.brainId, epoch);
    await h.commitAll(w, w.brainId, epoch, w.validators, rows);
    // a newcomer takes a seat in each of the epochs e .. e+2 (e settles as late as it can, in e+2); the fixture's
    // own registrations (epochs before e) sit in ring entries that the later epochs reuse (merged under the later
    // tag, which is still before e)
    const late = w.others.slice(0, 3);
    for (let k = 0; k < 3; k++) {
      await h.gotoCommitWindow(w, w.brainId, epoch + BigInt(k));
      if (k === 1) await h.revealAll(w, w.brainId, epoch, w.validators, rows);
      await h.registerMiner(w, w.brainId, late[k], 200 + k);
    }
    await (await w.consensus.settle(w.brainId, epoch, 1000)).wait();
    for (let k = 0; k < 3; k++) {
      const [, , uid] = await w.neurons.uidOf(w.brainId, await late[k].getAddress());
      expect(await w.consensus.minerPending(w.brainId, Number(uid)), `seat taken in epoch e+${k}`).to.equal(0n);
    }
    for (let j = 0; j < 6; j++) expect(await w.consensus.minerPending(w.brainId, j)).to.be.greaterThan(0n);
  });
});
