import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { world, worldFixture, nextEpoch, runEpoch, row } from "./fixture";

describe("NeuronRegistry", () => {
  it("registers miners and validators with peer id and multiaddrs", async () => {
    const w = await loadFixture(worldFixture);
    const [m] = w.others;
    const ma = await m.getAddress();
    await expect(w.neurons.connect(m).register(w.brainId, h.ROLE_MINER, h.peerIdOf(50), h.addrsOf(50)))
      .to.emit(w.neurons, "NeuronRegistered")
      .withArgs(w.brainId, h.ROLE_MINER, 6, ma, h.peerIdOf(50), h.addrsOf(50));
    const n = await w.neurons.neuron(w.brainId, h.ROLE_MINER, 6);
    expect(n.hotkey).to.equal(ma);
    expect(n.peerId).to.equal(h.peerIdOf(50));
    expect(n.multiaddrs).to.equal(h.addrsOf(50));
    const [ok, role, uid] = await w.neurons.uidOf(w.brainId, ma);
    expect([ok, role, uid]).to.deep.equal([true, 0n, 6n]);
    expect(await w.neurons.registrationCount(ma)).to.equal(1n);
    expect(await w.neurons.minerHotkey(w.brainId, 6)).to.equal(ma);
    const [minerMask, validatorMask] = await w.neurons.occupancy(w.brainId);
    expect(minerMask).to.equal(0b1111111n);
    expect(validatorMask).to.equal(0b1111n);
    const hk = await w.neurons.validatorHotkeys(w.brainId);
    expect(hk[0]).to.equal(await w.validators[0].getAddress());
    expect(hk[4]).to.equal(hre.ethers.ZeroAddress);
    expect((await w.neurons.neuron(w.brainId, h.ROLE_VALIDATOR, 1)).hotkey).to.equal(await w.validators[1].getAddress());
  });

  it("rejects duplicates, bad peer info, low stake and unknown Brains", async () => {
    const w = await loadFixture(worldFixture);
    const n = w.neurons;
    const m0 = w.miners[0];
    await expect(n.connect(m0).register(w.brainId, h.ROLE_VALIDATOR, h.peerIdOf(1), "0x"))
      .to.be.revertedWithCustomError(n, "AlreadyRegistered")
      .withArgs(w.brainId, await m0.getAddress());
    const [x] = w.others;
    await expect(n.connect(x).register(w.brainId, h.ROLE_MINER, "0x", "0x")).to.be.revertedWithCustomError(n, "InvalidPeerInfo");
    await expect(n.connect(x).register(w.brainId, h.ROLE_MINER, "0x" + "11".repeat(129), "0x")).to.be.revertedWithCustomError(
      n,
      "InvalidPeerInfo",
    );
    await expect(n.connect(x).register(w.brainId, h.ROLE_MINER, "0x11", "0x" + "11".repeat(1025))).to.be.revertedWithCustomError(
      n,
      "InvalidPeerInfo",
    );
    await expect(n.connect(x).register(w.brainId, h.ROLE_VALIDATOR, "0x11", "0x"))
      .to.be.revertedWithCustomError(n, "InsufficientStake")
      .withArgs(0, 100n * h.CBR);
    await expect(n.connect(x).register(42, h.ROLE_MINER, "0x11", "0x")).to.be.revertedWithCustomError(n, "UnknownBrain").withArgs(42);
  });

  it("deregisters and updates peer info", async () => {
    const w = await loadFixture(worldFixture);
    const m = w.miners[2];
    const ma = await m.getAddress();
    await expect(w.neurons.connect(m).updatePeerInfo(w.brainId, "0x1234", "0x5678"))
      .to.emit(w.neurons, "PeerInfoUpdated")
      .withArgs(w.brainId, ma, "0x1234", "0x5678");
    expect((await w.neurons.neuron(w.brainId, h.ROLE_MINER, 2)).multiaddrs).to.equal("0x5678");
    await expect(w.neurons.connect(m).updatePeerInfo(w.brainId, "0x", "0x")).to.be.revertedWithCustomError(w.neurons, "InvalidPeerInfo");
    await expect(w.neurons.connect(m).deregister(w.brainId))
      .to.emit(w.neurons, "NeuronDeregistered")
      .withArgs(w.brainId, h.ROLE_MINER, 2, ma);
    expect(await w.neurons.registrationCount(ma)).to.equal(0n);
    await expect(w.neurons.connect(m).deregister(w.brainId)).to.be.revertedWithCustomError(w.neurons, "NotRegistered").withArgs(w.brainId, ma);
    await expect(w.neurons.connect(m).updatePeerInfo(w.brainId, "0x11", "0x")).to.be.revertedWithCustomError(w.neurons, "NotRegistered");
    // the freed seat is reused first
    await expect(w.neurons.connect(w.others[0]).register(w.brainId, h.ROLE_MINER, "0x11", "0x"))
      .to.emit(w.neurons, "NeuronRegistered")
      .withArgs(w.brainId, h.ROLE_MINER, 2, await w.others[0].getAddress(), "0x11", "0x");
  });

  it("when full, prunes the lowest-incentive neuron past immunity, else reverts", async () => {
    const w = await world({ maxMiners: 6, immunityPeriod: 10_000 });
    const [x, y] = w.others;
    await expect(w.neurons.connect(x).register(w.brainId, h.ROLE_MINER, "0x11", "0x"))
      .to.be.revertedWithCustomError(w.neurons, "NoPrunableNeuron")
      .withArgs(w.brainId, h.ROLE_MINER);
    const w2 = await world({ maxMiners: 6, maxValidators: 4, immunityPeriod: 5 });
    const epoch = await nextEpoch(w2);
    // miner 3 gets the least weight
    await runEpoch(w2, epoch, [0, 1, 2, 3].map((k) => row([50, 60, 70, 5, 80, 90], k)));
    await w2.consensus.settle(w2.brainId, epoch, 1000);
    const victim = await w2.miners[3].getAddress();
    const pending = await w2.consensus.minerPending(w2.brainId, 3);
    const tx = w2.neurons.connect(x).register(w2.brainId, h.ROLE_MINER, "0x11", "0x");
    await expect(tx).to.emit(w2.neurons, "NeuronPruned").withArgs(w2.brainId, h.ROLE_MINER, 3, victim);
    await expect(tx).to.emit(w2.neurons, "NeuronRegistered").withArgs(w2.brainId, h.ROLE_MINER, 3, await x.getAddress(), "0x11", "0x");
    expect(await w2.consensus.claimable(victim)).to.equal(pending);
    expect((await w2.consensus.minerIncentives(w2.brainId))[3]).to.equal(0n);
    expect(await w2.consensus.bond(w2.brainId, 0, 3)).to.equal(0n);
    // validators: the one with the lowest dividends (here: did not reveal → 0) is pruned
    await h.selfStake(w2, y, 500n * h.CBR);
    const e2 = epoch + 1n;
    await runEpoch(w2, e2, [0, 1, 2, 3].map((k) => row([50, 60, 70, 5, 80, 90], 10 + k)), [0, 1, 3]);
    await w2.consensus.settle(w2.brainId, e2, 1000);
    await mine(5);
    await expect(w2.neurons.connect(y).register(w2.brainId, h.ROLE_VALIDATOR, "0x22", "0x"))
      .to.emit(w2.neurons, "NeuronPruned")
      .withArgs(w2.brainId, h.ROLE_VALIDATOR, 2, await w2.validators[2].getAddress());
  });

  it("wiring is one-time and owner-only", async () => {
    const w = await loadFixture(worldFixture);
    await expect(w.neurons.wire(await w.consensus.getAddress())).to.be.revertedWithCustomError(w.neurons, "AlreadyWired");
    const N = await hre.ethers.getContractFactory("NeuronRegistry");
    const n = await N.deploy(await w.brains.getAddress(), await w.staking.getAddress(), await w.emission.getAddress());
    await expect(n.wire(hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(n, "ZeroAddress");
    await expect(n.connect(w.others[0]).wire(await w.consensus.getAddress())).to.be.revertedWithCustomError(
      n,
      "OwnableUnauthorizedAccount",
    );
    await expect(n.wire(await w.consensus.getAddress())).to.emit(n, "Wired");
  });
});
