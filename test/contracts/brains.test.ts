import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";

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

  it("rejects bad tempo, limits, uri, missing fee approval and the 1,025th Brain", async () => {
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
    // brainCount is the 2nd own storage slot after ERC721 (5) + Ownable (1) + registrationFee: find it by value
    await env.token.approve(await b.getAddress(), hre.ethers.MaxUint256);
    await mint(10);
    const addr = await b.getAddress();
    let slot = -1;
    for (let k = 0; k < 20; k++) {
      const v = await hre.ethers.provider.getStorage(addr, k);
      if (BigInt(v) === 1n) slot = k;
    }
    expect(slot).to.be.greaterThan(-1);
    await hre.network.provider.send("hardhat_setStorageAt", [addr, hre.ethers.toQuantity(slot), hre.ethers.zeroPadValue("0x0400", 32)]);
    expect(await b.brainCount()).to.equal(1024n);
    await expect(mint(10)).to.be.revertedWithCustomError(b, "TooManyBrains");
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
