import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "./helpers";
import { emissionCapOf } from "../../scripts/deploy";

async function envFixture() {
  return h.deployEnv({ initialReward: 8n * h.CBR, halvingInterval: 100n, genesisSupply: 1_000n * h.CBR });
}

describe("CerberusToken", () => {
  it("caps supply at genesis + emission schedule and gives the genesis supply to the deployer", async () => {
    const env = await loadFixture(envFixture);
    const cap = 1_000n * h.CBR + emissionCapOf(8n * h.CBR, 100n);
    expect(await env.token.cap()).to.equal(cap);
    expect(await env.token.balanceOf(await env.deployer.getAddress())).to.equal(1_000n * h.CBR);
    expect(await env.token.minter()).to.equal(await env.emission.getAddress());
    expect(await env.emission.emissionCap()).to.equal(emissionCapOf(8n * h.CBR, 100n));
  });

  it("only the Emission contract mints, the minter is set once, and the cap holds", async () => {
    const env = await loadFixture(envFixture);
    const [, a] = env.signers;
    await expect(env.token.connect(a).mint(await a.getAddress(), 1))
      .to.be.revertedWithCustomError(env.token, "NotMinter")
      .withArgs(await a.getAddress());
    await expect(env.token.setMinter(await a.getAddress())).to.be.revertedWithCustomError(env.token, "MinterAlreadySet");
    await expect(env.token.connect(a).setMinter(await a.getAddress())).to.be.revertedWithCustomError(
      env.token,
      "OwnableUnauthorizedAccount",
    );
    // a fresh token: zero minter rejected, minter event, cap enforced on mint
    const T = await hre.ethers.getContractFactory("CerberusToken");
    const t = await T.deploy(100n, 10n, await env.deployer.getAddress());
    await expect(t.setMinter(hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(t, "ZeroAddress");
    await expect(t.setMinter(await a.getAddress())).to.emit(t, "MinterSet").withArgs(await a.getAddress());
    await expect(t.connect(a).mint(await a.getAddress(), 90n)).to.emit(t, "Transfer");
    await expect(t.connect(a).mint(await a.getAddress(), 1n)).to.be.revertedWithCustomError(t, "ERC20ExceededCap");
    await expect(T.deploy(100n, 10n, hre.ethers.ZeroAddress)).to.be.revertedWithCustomError(t, "ZeroAddress");
  });

  it("supports EIP-2612 permit", async () => {
    const env = await loadFixture(envFixture);
    const [owner, spender] = env.signers;
    const value = 5n * h.CBR;
    const deadline = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp + 3600);
    const domain = {
      name: "Cerberus",
      version: "1",
      chainId: (await hre.ethers.provider.getNetwork()).chainId,
      verifyingContract: await env.token.getAddress(),
    };
    const types = {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    };
    const msg = {
      owner: await owner.getAddress(),
      spender: await spender.getAddress(),
      value,
      nonce: 0n,
      deadline,
    };
    const sig = hre.ethers.Signature.from(await owner.signTypedData(domain, types, msg));
    await env.token.permit(msg.owner, msg.spender, value, deadline, sig.v, sig.r, sig.s);
    expect(await env.token.allowance(msg.owner, msg.spender)).to.equal(value);
  });
});

describe("Emission", () => {
  it("follows the halving schedule", async () => {
    const env = await loadFixture(envFixture);
    const g = await env.emission.genesisBlock();
    expect(await env.emission.rewardAt(g)).to.equal(8n * h.CBR);
    expect(await env.emission.rewardAt(g + 99n)).to.equal(8n * h.CBR);
    expect(await env.emission.rewardAt(g + 100n)).to.equal(4n * h.CBR);
    expect(await env.emission.rewardAt(g + 250n)).to.equal(2n * h.CBR);
    expect(await env.emission.rewardAt(g - 1n)).to.equal(0n);
    expect(await env.emission.cumulativeSchedule(g)).to.equal(0n);
    expect(await env.emission.cumulativeSchedule(g + 150n)).to.equal(800n * h.CBR + 50n * 4n * h.CBR);
    expect(await env.emission.cumulativeSchedule(g + 1_000_000n)).to.equal(await env.emission.emissionCap());
  });

  it("splits accrual equally among Brains from their mint block", async () => {
    const env = await loadFixture(envFixture);
    const [, a, b] = env.signers;
    const id1 = await h.mintBrain(env, a);
    await mine(9);
    const p1 = await env.emission.pendingEmission(id1);
    expect(p1).to.equal(9n * 8n * h.CBR); // 9 blocks with one Brain (view at the latest block)
    const id2 = await h.mintBrain(env, b);
    expect(await env.emission.activeBrains()).to.equal(2n);
    await mine(4);
    const p2 = await env.emission.pendingEmission(id2);
    expect(p2).to.equal(2n * 8n * h.CBR);
  });

  it("only wired contracts call in; wiring and split have guards and events", async () => {
    const env = await loadFixture(envFixture);
    const [, a] = env.signers;
    const addr = await a.getAddress();
    await expect(env.emission.connect(a).release(1, 0)).to.be.revertedWithCustomError(env.emission, "NotAuthorized").withArgs(addr);
    await expect(env.emission.connect(a).forfeit(1, 0)).to.be.revertedWithCustomError(env.emission, "NotAuthorized");
    await expect(env.emission.connect(a).onBrainAdded(1)).to.be.revertedWithCustomError(env.emission, "NotAuthorized");
    await expect(env.emission.wire(addr, addr, addr)).to.be.revertedWithCustomError(env.emission, "AlreadyWired");
    await expect(env.emission.setSplit(2500, 3750, 3750)).to.emit(env.emission, "SplitChanged").withArgs(2500, 3750, 3750);
    for (const bad of [
      [3100, 3450, 3450],
      [1000, 1900, 7100],
      [1000, 7100, 1900],
      [1800, 4100, 4000],
    ]) {
      await expect(env.emission.setSplit(bad[0], bad[1], bad[2])).to.be.revertedWithCustomError(env.emission, "InvalidSplit");
    }
    await expect(env.emission.connect(a).setSplit(2500, 3750, 3750)).to.be.revertedWithCustomError(
      env.emission,
      "OwnableUnauthorizedAccount",
    );
    const E = await hre.ethers.getContractFactory("Emission");
    await expect(E.deploy(await env.token.getAddress(), 0, 10)).to.be.revertedWithCustomError(env.emission, "InvalidSchedule");
    const fresh = await E.deploy(await env.token.getAddress(), 1, 10);
    await expect(fresh.wire(hre.ethers.ZeroAddress, addr, addr)).to.be.revertedWithCustomError(fresh, "ZeroAddress");
    await expect(fresh.wire(addr, addr, addr)).to.emit(fresh, "Wired").withArgs(addr, addr, addr);
    await expect(env.emission.connect(a).setBrainWeight(1, 5)).to.be.revertedWithCustomError(env.emission, "NotAuthorized");
  });
});
