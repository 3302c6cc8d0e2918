/**
 * Attack (issue 11 #3): Brain farming. Before the fix emission was split equally per Brain, the mint fee was flat and
 * the 1,024 slots could be filled for good: a farm Brain with a 1-wei validator and its own miner collected its
 * whole 1/N share, minting the free slots cost a flat fee each, and once they were full nobody could ever mint again.
 * The rules: emission is shared by the stake bonded to each Brain's validators (time-weighted), the burn price
 * doubles with each mint and decays back to the floor, and at capacity a mint prunes the lowest-weight Brain past its
 * immunity period.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "../helpers";

const HONEST_STAKE = [400n, 300n, 200n, 100n].map((x) => x * h.CBR);

/** Everything a Brain's settlements paid out (miners + validators + owner; forfeits pay nothing). */
async function settledPaid(env: h.Env, brainId: bigint): Promise<bigint> {
  const logs = await env.consensus.queryFilter(env.consensus.filters.EpochSettled(brainId));
  return logs.reduce((s, l) => s + l.args.minerPaid + l.args.validatorPaid + l.args.ownerPaid, 0n);
}

/** Mint fee burned by a BrainMinted event of `brainId`. */
async function burned(env: h.Env, brainId: bigint): Promise<bigint> {
  const [log] = await env.brains.queryFilter(env.brains.filters.BrainMinted(brainId));
  return log.args.feeBurned;
}

describe("attack: Brain farming", () => {
  it("a farm Brain (1-wei validator, its own miner) captures at most its stake share of emission", async () => {
    const env = await h.deployEnv({ initialReward: h.CBR, halvingInterval: 1_000_000n });
    const s = await hre.ethers.getSigners();
    const [owner, attacker, farmValidator, farmMiner] = s.slice(1, 5);
    const validators = s.slice(5, 9);
    const miners = s.slice(9, 13);
    const tempo = 40;
    // both Brains minted in one block, so that their epochs line up
    for (const who of [owner, attacker]) {
      await (await env.token.transfer(await who.getAddress(), 1_000n * h.CBR)).wait();
      await (await env.token.connect(who).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
    }
    await hre.network.provider.send("evm_setAutomine", [false]);
    const mintAs = (who: Signer, limits: h.BrainConfig) =>
      env.brains.connect(who).mintBrain(hre.ethers.id("m"), hre.ethers.id("f"), "u", tempo, h.limitsOf(limits));
    const t1 = await mintAs(owner, { maxMiners: 8, maxValidators: 4 });
    const t2 = await mintAs(attacker, { maxMiners: 1, maxValidators: 1, minValidatorStake: 1n });
    await mine(1);
    await hre.network.provider.send("evm_setAutomine", [true]);
    await t1.wait();
    await t2.wait();
    const honest = 1n;
    const farm = 2n;
    expect(await env.brains.ownerOf(farm)).to.equal(await attacker.getAddress());
    for (let j = 0; j < miners.length; j++) await h.registerMiner(env, honest, miners[j], j);
    for (let i = 0; i < validators.length; i++) await h.registerValidator(env, honest, validators[i], i, HONEST_STAKE[i]);
    await h.registerMiner(env, farm, farmMiner, 50);
    await h.registerValidator(env, farm, farmValidator, 51, 1n);

    // both Brains work honestly (the farm's validator puts all weight on the farm's own miner) for 3 epochs
    const honestRows = validators.map((_, k) => ({ uids: [0, 1, 2, 3], weights: [40, 30, 20, 10], salt: h.salt(k) }));
    const farmRow = [{ uids: [0], weights: [1], salt: h.salt(99) }];
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    const first = (await env.consensus.epochAt(honest, now + 1n)) + 1n;
    const from = (await env.consensus.windows(honest, first))[0];
    for (let e = first; e < first + 3n; e++) {
      await h.gotoCommitWindow(env, honest, e);
      await h.commitAll(env, honest, e, validators, honestRows);
      await h.commitAll(env, farm, e, [farmValidator], farmRow);
      await h.gotoRevealWindow(env, honest, e);
      await h.revealAll(env, honest, e, validators, honestRows);
      await h.revealAll(env, farm, e, [farmValidator], farmRow);
      await h.gotoSettle(env, honest, e);
      await h.settleAll(env, honest, e, 1000);
      await h.settleAll(env, farm, e, 1000);
    }
    const to = (await env.consensus.windows(honest, first + 2n))[1];
    const farmGot = await settledPaid(env, farm);
    const honestGot = await settledPaid(env, honest);
    const paid = farmGot + honestGot;
    const farmStake = 1n;
    const totalStake = HONEST_STAKE.reduce((a, b) => a + b) + farmStake;
    const stakeShareCap = (paid * farmStake) / totalStake;
    console.log(
      `      3 epochs (blocks ${from}..${to}): farm paid ${farmGot} wei, honest Brain ${honestGot} wei; ` +
        `farm stake share ${farmStake}/${totalStake} → at most ${stakeShareCap} wei`,
    );
    expect(farmGot).to.be.lte(stakeShareCap);
    expect(honestGot).to.be.gt(0n);
    // nothing beyond the schedule since the two Brains were minted
    const minted = (await env.brains.brain(honest)).genesisBlock;
    expect(paid).to.be.lte((await env.emission.cumulativeSchedule(to)) - (await env.emission.cumulativeSchedule(minted)));
  });

  it("the burn price rises with demand and decays back to the floor", async () => {
    const env = await h.deployEnv();
    const [, buyer] = await hre.ethers.getSigners();
    const floor = await env.brains.registrationFee();
    await (await env.token.transfer(await buyer.getAddress(), 1_000_000n * h.CBR)).wait();
    await (await env.token.connect(buyer).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
    const mintOne = async () => {
      await (
        await env.brains.connect(buyer).mintBrain(hre.ethers.id("m"), hre.ethers.id("f"), "u", 40, h.limitsOf({}))
      ).wait();
      return burned(env, await env.brains.brainCount());
    };
    // ten mints in a row: each burns (nearly) twice the previous one
    const fees: bigint[] = [];
    for (let k = 0; k < 10; k++) fees.push(await mintOne());
    console.log(`      10 back-to-back mints burned ${fees.map((f) => f / h.CBR).join(", ")} CBR`);
    expect(fees[0]).to.equal(floor);
    for (let k = 1; k < fees.length; k++) expect(fees[k] * 1000n).to.be.gte(fees[k - 1] * 1999n);
    const total = fees.reduce((a, b) => a + b);
    expect(total).to.be.gte(floor * 1000n); // vs 10 × floor at a flat fee
    // it decays linearly: halfway through the decay period it is halfway between 2·last and the floor
    const last = fees[fees.length - 1];
    const decay = await env.brains.priceDecay();
    await mine(decay / 2n); // views run at the latest block: decay/2 blocks after the last mint
    expect(await env.brains.registrationPrice()).to.equal(2n * last - (2n * last - floor) / 2n);
    await mine(decay / 2n);
    expect(await env.brains.registrationPrice()).to.equal(floor);
    expect(await mintOne()).to.equal(floor);
  });

  it("squatted slots are reclaimed: at capacity a mint prunes the lowest-weight Brain past its immunity", async function () {
    this.timeout(600_000);
    // a shorter decay than the default keeps the test's block count small; the squat math is the same
    const decay = 1_000n;
    const immunity = 50_400n; // the default
    const env = await h.deployEnv({ brainPriceDecay: decay, brainImmunity: immunity });
    const s = await hre.ethers.getSigners();
    const [owner, squatter, newcomer] = s.slice(1, 4);
    const validators = s.slice(4, 6);
    const floor = await env.brains.registrationFee();
    const cap = Number(await env.brains.MAX_BRAINS());
    // an honest Brain with real validator stake
    const honest = await h.mintBrain(env, owner, { maxValidators: 2 });
    for (let i = 0; i < validators.length; i++) await h.registerValidator(env, honest, validators[i], i, 500n * h.CBR);
    // the squatter fills every other slot at the floor price, waiting out the decay before each mint
    await (await env.token.transfer(await squatter.getAddress(), BigInt(cap) * floor)).wait();
    await (await env.token.connect(squatter).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
    const b = env.brains.connect(squatter);
    const t0 = BigInt(await hre.ethers.provider.getBlockNumber());
    let spent = 0n;
    for (let k = 1; k < cap; k++) {
      await mine(decay);
      const tx = await b.mintBrain(hre.ethers.id("farm"), hre.ethers.id("f"), "", 40, h.limitsOf({ maxValidators: 1 }));
      await tx.wait();
      spent += floor;
    }
    const blocks = BigInt(await hre.ethers.provider.getBlockNumber()) - t0;
    expect(await env.emission.activeBrains()).to.equal(BigInt(cap));
    const years = (Number(blocks) * 12) / 86_400 / 365;
    console.log(
      `      squatting ${cap - 1} slots at the floor took ${blocks} blocks here (with the default 100,800-block decay: ` +
        `${((cap - 1) * 100_800 * 12) / 86_400 / 365} years at 12 s; here ${years.toFixed(2)}) and burned ${spent / h.CBR} CBR`,
    );
    await (await env.token.transfer(await newcomer.getAddress(), 10_000n * h.CBR)).wait();
    await (await env.token.connect(newcomer).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
    const nb = env.brains.connect(newcomer);
    const mint = () => nb.mintBrain(hre.ethers.id("new"), hre.ethers.id("f"), "", 40, h.limitsOf({}));
    // past immunity: the newcomer's mint prunes the oldest zero-weight squat (Brain 2), never the staked Brain
    const tx = await mint();
    await expect(tx).to.emit(env.brains, "BrainDeregistered").withArgs(2n, await squatter.getAddress(), true);
    await expect(tx).to.emit(env.emission, "BrainRemoved");
    const rc = await tx.wait();
    console.log(`      a mint at capacity (prune scan over ${cap} Brains) used ${rc!.gasUsed} gas`);
    const id = await env.brains.brainCount();
    expect(id).to.equal(BigInt(cap) + 1n); // ids are never reused
    expect(await env.brains.ownerOf(id)).to.equal(await newcomer.getAddress());
    expect(await env.brains.brainExists(2n)).to.equal(false);
    expect(await env.brains.brainExists(honest)).to.equal(true);
    expect(await env.emission.activeBrains()).to.equal(BigInt(cap));
    // a dead Brain takes no neuron registrations
    await h.selfStake(env, newcomer, 200n * h.CBR);
    await expect(env.neurons.connect(newcomer).register(2n, h.ROLE_VALIDATOR, h.peerIdOf(7), h.addrsOf(7)))
      .to.be.revertedWithCustomError(env.neurons, "UnknownBrain")
      .withArgs(2n);
    // while every Brain is immune, a mint at capacity is refused
    await (await env.brains.setBrainImmunity(await env.brains.MAX_BRAIN_IMMUNITY())).wait();
    await expect(mint()).to.be.revertedWithCustomError(env.brains, "NoPrunableBrain");
    await (await env.brains.setBrainImmunity(immunity)).wait();
    await expect(mint()).to.emit(env.brains, "BrainDeregistered").withArgs(3n, await squatter.getAddress(), true);
  });
});
