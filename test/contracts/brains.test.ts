import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { worldFixture, nextEpoch, runEpoch, row } from "./fixture";

async function envFixture() {
  return h.deployEnv();
}

describe("BrainRegistry", () => {
  it("mints a Brain NFT, burns the fee and records model, tempo and limits", async () => {
    const env = await loadFixture(envFixture);
    const [, owner] = env.signers;
    const fee = await env.brains.registrationFee();
    await env.token.transfer(await owner.getAddress(), fee);
    await env.token.connect(owner).approve(await env.brains.getAddress(), fee);
    const supply = await env.token.totalSupply();
    const limits = h.limitsOf({ maxMiners: 256, maxValidators: 32, immunityPeriod: 7 });
    const tx = env.brains.connect(owner).mintBrain(hre.ethers.id("m"), hre.ethers.id("f"), "ipfs://x", 360, limits);
    await expect(tx).to.emit(env.brains, "BrainMinted").withArgs(1, await owner.getAddress(), 360, fee);
    await expect(tx).to.emit(env.brains, "ModelUpdated").withArgs(1, hre.ethers.id("m"), hre.ethers.id("f"), "ipfs://x");
    await expect(tx).to.emit(env.brains, "LimitsUpdated");
    await expect(tx).to.emit(env.emission, "BrainAdded").withArgs(1, 1);
    expect(await env.token.totalSupply()).to.equal(supply - fee);
    expect(await env.brains.ownerOf(1)).to.equal(await owner.getAddress());
    const b = await env.brains.brain(1);
    expect(b.tempo).to.equal(360n);
    expect(b.limits.maxMiners).to.equal(256n);
    expect(b.limits.immunityPeriod).to.equal(7n);
    const [g, t] = await env.brains.timing(1);
    expect(g).to.equal(b.genesisBlock);
    expect(t).to.equal(360n);
    expect((await env.brains.limits(1)).maxValidators).to.equal(32n);
    expect(await env.brains.brainExists(1)).to.equal(true);
    expect(await env.brains.brainExists(2)).to.equal(false);
  });

  it("rejects bad tempo, limits, uri and missing fee approval", async () => {
    const env = await loadFixture(envFixture);
    const b = env.brains;
    const mint = (tempo: number, l = h.limitsOf({}), uri = "u") =>
      b.mintBrain(hre.ethers.ZeroHash, hre.ethers.ZeroHash, uri, tempo, l);
    await expect(mint(3)).to.be.revertedWithCustomError(b, "InvalidTempo").withArgs(3);
    await expect(mint(1_000_001)).to.be.revertedWithCustomError(b, "InvalidTempo");
    for (const l of [{ maxMiners: 0 }, { maxMiners: 257 }, { maxValidators: 0 }, { maxValidators: 33 }, { immunityPeriod: 1_000_001 }]) {
      await expect(mint(10, h.limitsOf(l))).to.be.revertedWithCustomError(b, "InvalidLimits");
    }
    await expect(mint(10, h.limitsOf({}), "x".repeat(513))).to.be.revertedWithCustomError(b, "UriTooLong");
    await expect(mint(10)).to.be.revertedWithCustomError(env.token, "ERC20InsufficientAllowance");
    // the full-capacity path (1,024 active Brains, pruning, NoPrunableBrain) is exercised with real mints in
    // test/contracts/attacks/brain-farming.test.ts
  });

  it("lets only the Brain owner update model and (grow-only) limits; the protocol owner sets the fee", async () => {
    const env = await loadFixture(envFixture);
    const [, owner, stranger] = env.signers;
    const id = await h.mintBrain(env, owner, { maxMiners: 8, maxValidators: 2 });
    const b = env.brains;
    await expect(b.connect(owner).setModel(id, hre.ethers.id("m2"), hre.ethers.id("f2"), "ipfs://y"))
      .to.emit(b, "ModelUpdated")
      .withArgs(id, hre.ethers.id("m2"), hre.ethers.id("f2"), "ipfs://y");
    expect((await b.brain(id)).modelHash).to.equal(hre.ethers.id("m2"));
    await expect(b.connect(stranger).setModel(id, hre.ethers.ZeroHash, hre.ethers.ZeroHash, ""))
      .to.be.revertedWithCustomError(b, "NotBrainOwner")
      .withArgs(id, await stranger.getAddress());
    await expect(b.connect(owner).setModel(id, hre.ethers.ZeroHash, hre.ethers.ZeroHash, "x".repeat(513))).to.be.revertedWithCustomError(
      b,
      "UriTooLong",
    );
    await expect(b.connect(owner).setLimits(id, h.limitsOf({ maxMiners: 16, maxValidators: 4 }))).to.emit(b, "LimitsUpdated");
    // announced: it applies from the next epoch on (never to an epoch already begun)
    const [pending, from] = await b.pendingLimits(id);
    expect(pending.maxMiners).to.equal(16n);
    expect((await b.limits(id)).maxMiners).to.equal(8n);
    await h.mineTo(from + 1n);
    expect((await b.limits(id)).maxMiners).to.equal(16n);
    expect((await b.pendingLimits(id))[1]).to.equal(0n);
    // minMinerStake may fall but never rise after mint (seated miners locked the old minimum)
    await expect(
      b.connect(owner).setLimits(id, h.limitsOf({ maxMiners: 16, maxValidators: 4, minMinerStake: 1n })),
    ).to.be.revertedWithCustomError(b, "InvalidLimits");
    await expect(b.connect(owner).setLimits(id, h.limitsOf({ maxMiners: 8, maxValidators: 4 }))).to.be.revertedWithCustomError(
      b,
      "InvalidLimits",
    );
    await expect(b.connect(owner).setLimits(id, h.limitsOf({ maxMiners: 16, maxValidators: 3 }))).to.be.revertedWithCustomError(
      b,
      "InvalidLimits",
    );
    await expect(b.connect(stranger).setLimits(id, h.limitsOf({}))).to.be.revertedWithCustomError(b, "NotBrainOwner");
    await expect(b.setModel(77, hre.ethers.ZeroHash, hre.ethers.ZeroHash, "")).to.be.revertedWithCustomError(b, "UnknownBrain").withArgs(77);
    await expect(b.brain(77)).to.be.revertedWithCustomError(b, "UnknownBrain");
    await expect(b.limits(77)).to.be.revertedWithCustomError(b, "UnknownBrain");
    await expect(b.timing(77)).to.be.revertedWithCustomError(b, "UnknownBrain");
    await expect(b.setRegistrationFee(5)).to.emit(b, "RegistrationFeeChanged").withArgs(5);
    expect(await b.registrationFee()).to.equal(5n);
    await expect(b.connect(stranger).setRegistrationFee(0)).to.be.revertedWithCustomError(b, "OwnableUnauthorizedAccount");
  });
});

describe("BrainRegistry: price and lifecycle", () => {
  it("constructor and owner setters guard the price decay and the Brain immunity", async () => {
    const env = await loadFixture(envFixture);
    const [, stranger] = env.signers;
    const b = env.brains;
    expect(await b.priceDecay()).to.equal(100_800n);
    expect(await b.brainImmunity()).to.equal(50_400n);
    await expect(b.setPriceDecay(10)).to.emit(b, "PriceDecayChanged").withArgs(10);
    await expect(b.setPriceDecay(0)).to.be.revertedWithCustomError(b, "InvalidPriceDecay");
    await expect(b.setPriceDecay(10_000_001)).to.be.revertedWithCustomError(b, "InvalidPriceDecay");
    await expect(b.setBrainImmunity(0)).to.emit(b, "BrainImmunityChanged").withArgs(0);
    await expect(b.setBrainImmunity(10_000_001)).to.be.revertedWithCustomError(b, "InvalidBrainImmunity");
    await expect(b.connect(stranger).setPriceDecay(5)).to.be.revertedWithCustomError(b, "OwnableUnauthorizedAccount");
    await expect(b.connect(stranger).setBrainImmunity(5)).to.be.revertedWithCustomError(b, "OwnableUnauthorizedAccount");
    const R = await hre.ethers.getContractFactory("BrainRegistry");
    await expect(R.deploy(await env.token.getAddress(), await env.emission.getAddress(), 1, 0, 0)).to.be.revertedWithCustomError(
      b,
      "InvalidPriceDecay",
    );
    // the floor moves the price: a raised floor applies at once
    await (await b.setRegistrationFee(1_000n * h.CBR)).wait();
    expect(await b.registrationPrice()).to.equal(1_000n * h.CBR);
  });

  it("a Brain owner deregisters its own Brain: NFT burned, no registrations or settlements, id not reused", async () => {
    const env = await loadFixture(envFixture);
    const [, owner, stranger, validator, miner] = env.signers;
    const id = await h.mintBrain(env, owner, { minMinerStake: 0n, tempo: 10 });
    const keep = await h.mintBrain(env, stranger);
    await h.registerValidator(env, id, validator, 0, 100n * h.CBR);
    await h.registerMiner(env, id, miner, 0);
    expect(await env.emission.brainWeight(id)).to.equal(100n * h.CBR);
    await expect(env.brains.connect(stranger).deregisterBrain(id))
      .to.be.revertedWithCustomError(env.brains, "NotBrainOwner")
      .withArgs(id, await stranger.getAddress());
    const tx = env.brains.connect(owner).deregisterBrain(id);
    await expect(tx).to.emit(env.brains, "BrainDeregistered").withArgs(id, await owner.getAddress(), false);
    await expect(tx).to.emit(env.brains, "Transfer").withArgs(await owner.getAddress(), hre.ethers.ZeroAddress, id);
    await expect(tx).to.emit(env.emission, "BrainRemoved");
    const at = BigInt(await hre.ethers.provider.getBlockNumber());
    expect(await env.brains.deregisteredAt(id)).to.equal(at);
    expect(await env.brains.brainExists(id)).to.equal(false);
    expect(await env.brains.brainExists(keep)).to.equal(true);
    await expect(env.brains.ownerOf(id)).to.be.revertedWithCustomError(env.brains, "ERC721NonexistentToken");
    // the record stays readable (seat bookkeeping of its neurons), mutations are refused
    expect((await env.brains.brain(id)).tempo).to.equal(10n);
    expect((await env.brains.limits(id)).maxMiners).to.equal(16n);
    expect((await env.brains.timing(id))[1]).to.equal(10n);
    await expect(env.brains.connect(owner).setModel(id, hre.ethers.ZeroHash, hre.ethers.ZeroHash, ""))
      .to.be.revertedWithCustomError(env.brains, "UnknownBrain")
      .withArgs(id);
    await expect(env.brains.connect(owner).deregisterBrain(id)).to.be.revertedWithCustomError(env.brains, "UnknownBrain");
    // emission: weight gone, nothing accrues; neurons: no new registrations, existing ones can still leave
    expect(await env.emission.brainWeight(id)).to.equal(0n);
    expect(await env.emission.isActive(id)).to.equal(false);
    await h.selfStake(env, stranger, 100n * h.CBR);
    await expect(env.neurons.connect(stranger).register(id, h.ROLE_MINER, h.peerIdOf(9), h.addrsOf(9)))
      .to.be.revertedWithCustomError(env.neurons, "UnknownBrain")
      .withArgs(id);
    await expect(env.consensus.settle(id, 0, 1000)).to.be.revertedWithCustomError(env.consensus, "UnknownBrain");
    await expect(env.neurons.connect(validator).deregister(id)).to.emit(env.neurons, "NeuronDeregistered");
    await expect(env.neurons.connect(miner).deregister(id)).to.emit(env.neurons, "NeuronDeregistered");
    // ids are never reused
    const next = await h.mintBrain(env, owner);
    expect(next).to.equal(keep + 1n);
  });
});

describe("BrainRegistry: deregistration and settlement", () => {
  it("a half-settled Brain cannot be deregistered until its settlement finishes", async () => {
    const w = await loadFixture(worldFixture);
    const epoch = await nextEpoch(w);
    await runEpoch(w, epoch, [0, 1, 2, 3].map((k) => row([100, 90, 80, 70, 60, 50], k)));
    await (await w.consensus.settle(w.brainId, epoch, 16)).wait(); // maxMiners 40: chunked, phase 1
    expect(await w.consensus.settlementInProgress(w.brainId)).to.equal(true);
    await expect(w.brains.connect(w.owner).deregisterBrain(w.brainId))
      .to.be.revertedWithCustomError(w.brains, "SettlementInProgress")
      .withArgs(w.brainId);
    await h.settleAll(w, w.brainId, epoch, 16);
    expect(await w.consensus.settlementInProgress(w.brainId)).to.equal(false);
    await expect(w.brains.connect(w.owner).deregisterBrain(w.brainId)).to.emit(w.brains, "BrainDeregistered");
    // the dead Brain's miners still claim what they were paid
    const pending = await w.consensus.minerPending(w.brainId, 0);
    expect(pending).to.be.greaterThan(0n);
    await expect(w.consensus.connect(w.miners[0]).claimMiner(w.brainId, 0)).to.changeTokenBalance(w.token, w.miners[0], pending);
  });
});
