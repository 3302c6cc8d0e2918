/**
 * Attack (issue 11 #6): register another miner's libp2p peer id under your own hotkey; clients dialling "your" seat
 * reach the victim's miner and you are paid for its work. Defence (on-chain half): a peer id is held by at most one
 * hotkey per Brain — `PeerIdTaken(brainId, holder)` on register and on updatePeerInfo; freed with the seat or update.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { worldFixture } from "../fixture";

describe("attack: peer-id copying", () => {
  it("refuses a peer id another hotkey holds in the same Brain, on register and on update", async () => {
    const w = await loadFixture(worldFixture);
    const [attacker] = w.others;
    const aa = await attacker.getAddress();
    const victim = await w.miners[0].getAddress();
    let outcome = "registered";
    try {
      await (await w.neurons.connect(attacker).register(w.brainId, h.ROLE_MINER, h.peerIdOf(0), h.addrsOf(99))).wait();
    } catch (err) {
      outcome = String((err as Error).message).slice(0, 100);
    }
    console.log(`      copy of miner 0's peer id: ${outcome}`);
    expect((await w.neurons.uidOf(w.brainId, aa))[0], "attacker seated under the victim's peer id").to.equal(false);
    await expect(w.neurons.connect(attacker).register(w.brainId, h.ROLE_MINER, h.peerIdOf(0), h.addrsOf(99)))
      .to.be.revertedWithCustomError(w.neurons, "PeerIdTaken")
      .withArgs(w.brainId, victim);
    // a validator's peer id is just as taken for a miner seat
    await expect(w.neurons.connect(attacker).register(w.brainId, h.ROLE_MINER, h.peerIdOf(1000), "0x"))
      .to.be.revertedWithCustomError(w.neurons, "PeerIdTaken")
      .withArgs(w.brainId, await w.validators[0].getAddress());
    // registered with its own id, the attacker cannot switch to a victim's by update
    await (await w.neurons.connect(attacker).register(w.brainId, h.ROLE_MINER, h.peerIdOf(99), h.addrsOf(99))).wait();
    await expect(w.neurons.connect(attacker).updatePeerInfo(w.brainId, h.peerIdOf(1), h.addrsOf(99)))
      .to.be.revertedWithCustomError(w.neurons, "PeerIdTaken")
      .withArgs(w.brainId, await w.miners[1].getAddress());
    // re-announcing your own id (new multiaddrs) is fine
    await expect(w.neurons.connect(attacker).updatePeerInfo(w.brainId, h.peerIdOf(99), h.addrsOf(98))).to.emit(
      w.neurons,
      "PeerInfoUpdated",
    );
  });

  it("frees the peer id when its holder deregisters or moves; other Brains are independent", async () => {
    const w = await loadFixture(worldFixture);
    const [a, b] = w.others;
    await (await w.neurons.connect(w.miners[0]).deregister(w.brainId)).wait();
    await expect(w.neurons.connect(a).register(w.brainId, h.ROLE_MINER, h.peerIdOf(0), "0x")).to.emit(w.neurons, "NeuronRegistered");
    await (await w.neurons.connect(w.miners[1]).updatePeerInfo(w.brainId, h.peerIdOf(501), "0x")).wait();
    await expect(w.neurons.connect(b).register(w.brainId, h.ROLE_MINER, h.peerIdOf(1), "0x")).to.emit(w.neurons, "NeuronRegistered");
    await expect(w.neurons.connect(b).updatePeerInfo(w.brainId, h.peerIdOf(501), "0x"))
      .to.be.revertedWithCustomError(w.neurons, "PeerIdTaken")
      .withArgs(w.brainId, await w.miners[1].getAddress());
    const b2 = await h.mintBrain(w, w.owner, {});
    await expect(w.neurons.connect(w.miners[2]).register(b2, h.ROLE_MINER, h.peerIdOf(2), "0x")).to.emit(w.neurons, "NeuronRegistered");
  });
});
