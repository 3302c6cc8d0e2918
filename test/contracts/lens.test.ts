import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { worldFixture, nextEpoch, runEpoch, row, VALIDATOR_STAKE } from "./fixture";

describe("CerberusLens", () => {
  it("returns a whole Brain (metadata, miners, validators, stakes, scores) in one call", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row([100, 90, 80, 70, 60, 50], k)));
    await w.consensus.settle(w.brainId, epoch, 1000);
    const v = await w.lens.brainView(w.brainId);
    expect(v.brainId).to.equal(w.brainId);
    expect(v.owner).to.equal(await w.owner.getAddress());
    expect(v.brain.tempo).to.equal(40n);
    expect(v.settledAny).to.equal(true);
    expect(v.settlementEpoch).to.equal(epoch);
    expect(v.settlementPhase).to.equal(0n);
    expect(v.lastUpdate).to.be.greaterThan(0n);
    expect(v.miners.length).to.equal(6);
    expect(v.validators.length).to.equal(4);
    const inc = await w.consensus.minerIncentives(w.brainId);
    for (const [k, m] of v.miners.entries()) {
      expect(m.uid).to.equal(BigInt(k));
      expect(m.role).to.equal(0n);
      expect(m.hotkey).to.equal(await w.miners[k].getAddress());
      expect(m.peerId).to.equal(h.peerIdOf(k));
      expect(m.multiaddrs).to.equal(h.addrsOf(k));
      expect(m.incentive).to.equal(inc[k]);
      expect(m.pendingReward).to.equal(await w.consensus.minerPending(w.brainId, k));
    }
    for (const [k, val] of v.validators.entries()) {
      expect(val.role).to.equal(1n);
      expect(val.stake).to.equal(VALIDATOR_STAKE[k]);
      expect(val.dividends).to.be.greaterThan(0n);
    }
  });

  it("reverts with UnknownBrain for a missing Brain", async () => {
    const w = await loadFixture(worldFixture);
    await expect(w.lens.brainView(99)).to.be.revertedWithCustomError(w.brains, "UnknownBrain").withArgs(99);
  });
});
