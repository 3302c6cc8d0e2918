/**
 * Attack: pruning by an instant weight. With 1,024 active Brains a mint prunes the lowest-weight Brain past its
 * immunity; that weight was read in the minting block. Parking 101 CBR on a zero-stake squat S for one block made the
 * mint prune a rival R with 100 CBR staked instead — R's NFT burned, its seats orphaned and its unreleased accrual
 * forfeited (never minted).
 * Rules: a Brain is pruned by its low-water weight — the least emission weight it held since the start of the previous
 * prune period (periods of `Emission.PRUNE_PERIOD` blocks) — so weight counts only once it has been held that long;
 * and accrual nobody is paid (a removed Brain's, an expired epoch's, an epoch no miner earned) goes back to the
 * emission schedule: the schedule is rewound by that amount and emits it again to the active Brains.
 */
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { expectSolvent } from "../solvency";

const CBR = h.CBR;
const HALVING = 40_000n;

async function capacity() {
  const env = await h.deployEnv({ brainPriceDecay: 1n, brainImmunity: 10_000n, initialReward: CBR, halvingInterval: HALVING });
  const s = await hre.ethers.getSigners();
  const [owner, squatter, newcomer, rivalValidator, attacker] = s.slice(1, 6);
  const cap = Number(await env.brains.MAX_BRAINS());
  const R = await h.mintBrain(env, owner, { maxValidators: 1 });
  await h.registerValidator(env, R, rivalValidator, 1, 100n * CBR); // the rival: 100 CBR staked all along
  const floor = await env.brains.registrationFee();
  await (await env.token.transfer(await squatter.getAddress(), BigInt(cap) * floor)).wait();
  await (await env.token.connect(squatter).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
  const b = env.brains.connect(squatter);
  await (await b.mintBrain(hre.ethers.id("s"), hre.ethers.id("f"), "", 40, h.limitsOf({ maxValidators: 1 }))).wait();
  const S = await env.brains.brainCount(); // the zero-stake squat
  await mine(16_000); // R and S are old: past their immunity, and R's weight has been in place for over two days
  for (let k = 2; k < cap; k++) {
    await (await b.mintBrain(hre.ethers.id("f"), hre.ethers.id("f"), "", 40, h.limitsOf({ maxValidators: 1 }))).wait();
  }
  expect(await env.emission.activeBrains()).to.equal(BigInt(cap)); // the other 1,022 are still immune
  await (await env.token.transfer(await newcomer.getAddress(), 10_000n * CBR)).wait();
  await (await env.token.connect(newcomer).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
  const mint = () => env.brains.connect(newcomer).mintBrain(hre.ethers.id("n"), hre.ethers.id("f"), "", 40, h.limitsOf({}));
  return { env, R, S, attacker, rivalValidator, mint };
}

describe("attack: pruning by an instant weight", () => {
  it("parking 101 CBR on a squat for one block does not make a mint prune a staked rival", async function () {
    this.timeout(600_000);
    const { env, R, S, attacker, mint } = await loadFixture(capacity);
    const pending = await env.emission.pendingEmission(R);
    await h.selfStake(env, attacker, 101n * CBR);
    await (await env.neurons.connect(attacker).register(S, h.ROLE_VALIDATOR, h.peerIdOf(5), "0x")).wait();
    const weights = [await env.emission.brainWeight(S), await env.emission.brainWeight(R)];
    const rc = (await (await mint()).wait())!;
    const gone = rc.logs
      .map((l) => { try { return env.brains.interface.parseLog(l); } catch { return null; } })
      .filter((p) => p?.name === "BrainDeregistered")
      .map((p) => p!.args.brainId as bigint);
    await (await env.neurons.connect(attacker).deregister(S)).wait();
    await (await env.staking.connect(attacker).unstake(await attacker.getAddress(), 101n * CBR)).wait();
    console.log(
      `      weights at the mint: squat S ${weights[0] / CBR} CBR (for one block), rival R ${weights[1] / CBR} CBR ` +
        `(${pending / CBR} CBR of unreleased accrual); the mint pruned Brain ${gone.map((x) => (x === S ? "S" : x === R ? "R" : x)).join(",")}`,
    );
    expect(gone).to.deep.equal([S]);
    expect(await env.brains.brainExists(R)).to.equal(true);
    await expectSolvent(env);
  });

  it("a pruned Brain's unreleased accrual goes back to the emission schedule", async function () {
    this.timeout(600_000);
    const { env, R, rivalValidator, mint } = await loadFixture(capacity);
    // R loses its stake and is then the oldest zero-weight Brain past its immunity (its low-water mark is 0 once the
    // period in which it still had weight is over)
    await (await env.staking.connect(rivalValidator).unstake(await rivalValidator.getAddress(), 100n * CBR)).wait();
    const period = await env.emission.PRUNE_PERIOD();
    await mine(2n * period);
    const accrued = await env.emission.pendingEmission(R);
    const tx = await mint();
    await expect(tx).to.emit(env.brains, "BrainDeregistered").withArgs(R, await (await hre.ethers.getSigners())[1].getAddress(), true);
    const rc = (await tx.wait())!;
    const recycled = rc.logs
      .map((l) => { try { return env.emission.interface.parseLog(l); } catch { return null; } })
      .find((p) => p?.name === "Recycled");
    const genesis = await env.emission.genesisBlock();
    const reward = await env.emission.initialReward();
    const k = recycled!.args.blocksRewound as bigint;
    console.log(
      `      R's unreleased accrual ${accrued / CBR} CBR; recycled ${recycled!.args.amount} wei: the schedule rewound ` +
        `${k} blocks, so the first halving moves from block ${genesis + HALVING} to ${genesis + HALVING + k}`,
    );
    expect(recycled!.args.brainId).to.equal(R);
    expect(recycled!.args.amount).to.be.gte(accrued);
    expect(k).to.equal(recycled!.args.amount / reward);
    expect(await env.emission.rewardAt(genesis + HALVING + k - 1n)).to.equal(reward);
    expect(await env.emission.rewardAt(genesis + HALVING + k)).to.equal(reward / 2n);
    await expectSolvent(env);
  });
});
