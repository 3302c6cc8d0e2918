/**
 * Attack: the Brain owner changes who votes. The owner runs a 40% validator that backs only the owner's miner. Just
 * before settlement it raises `minValidatorStake` above every honest validator's stake, so its validator is the only
 * eligible voter, settles, and lowers the minimum again. Its miner and its dividends went from 0 to 100% of the pools;
 * the raise also made every other validator prunable at once.
 * Rule: every owner-set parameter that decides who votes, who is paid or who may be pruned (minimum stakes, seat caps,
 * immunity; the tempo is fixed at mint) applies only from the first epoch that begins after the change is announced
 * (`LimitsUpdated(brainId, limits, fromBlock)`); an epoch is settled with the parameters it began with, and the Lens
 * shows the pending value and the block it applies from.
 */
import { expect } from "chai";
import * as h from "../helpers";
import { world, nextEpoch, runEpoch, row } from "../fixture";
import { expectSolvent } from "../solvency";

const HONEST = [40, 30, 20, 15, 10, 0];
const OWNERS = [0, 0, 0, 0, 0, 1]; // miner uid 5 is the owner's

async function scenario(raise: boolean) {
  const w = await world({ maxValidators: 4 });
  const epoch = await nextEpoch(w);
  await runEpoch(w, epoch, [row(OWNERS, 0), row(HONEST, 1), row(HONEST, 2), row(HONEST, 3)]);
  const limits = h.limitsOf({ maxMiners: 40, maxValidators: 4 });
  if (raise) await (await w.brains.connect(w.owner).setLimits(w.brainId, { ...limits, minValidatorStake: 301n * h.CBR })).wait();
  const paid = await h.settleRewards(w, w.brainId, epoch);
  if (raise) await (await w.brains.connect(w.owner).setLimits(w.brainId, limits)).wait();
  const [log] = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch));
  await expectSolvent(w, raise ? "raise" : "baseline");
  let honestValidators = 0n;
  for (const v of w.validators.slice(1)) honestValidators += paid.get(await v.getAddress()) ?? 0n;
  return {
    ownerMiner: await w.consensus.minerPending(w.brainId, 5),
    minerPaid: log.args.minerPaid,
    ownerDividends: paid.get(await w.validators[0].getAddress()) ?? 0n,
    honestValidators,
    validatorPaid: log.args.validatorPaid,
  };
}

const pct = (x: bigint, of: bigint) => (of === 0n ? "0" : ((Number(x) / Number(of)) * 100).toFixed(1));

describe("attack: the Brain owner changes who votes", () => {
  it("raising minValidatorStake before settlement does not change who votes in the epoch being settled", async () => {
    const base = await scenario(false);
    const attack = await scenario(true);
    const line = (o: Awaited<ReturnType<typeof scenario>>) =>
      `owner's miner ${pct(o.ownerMiner, o.minerPaid)}% of the miner pool, owner's validator ` +
      `${pct(o.ownerDividends, o.validatorPaid)}% and the honest validators ${pct(o.honestValidators, o.validatorPaid)}% of the validator pool`;
    console.log(`      no change: ${line(base)}\n      raised:    ${line(attack)}`);
    expect(attack.ownerMiner).to.equal(base.ownerMiner);
    expect(attack.ownerDividends).to.equal(base.ownerDividends);
    expect(attack.honestValidators).to.equal(base.honestValidators);
  });

  it("a raised minimum makes no validator prunable before the epoch it applies from", async () => {
    const w = await world({ maxValidators: 4, immunityPeriod: 0 });
    const [newcomer] = w.others;
    await h.selfStake(w, newcomer, 400n * h.CBR);
    const limits = h.limitsOf({ maxMiners: 40, maxValidators: 4, immunityPeriod: 0 });
    await (await w.brains.connect(w.owner).setLimits(w.brainId, { ...limits, minValidatorStake: 301n * h.CBR })).wait();
    // the validators' scores are all 0 (nothing settled yet), so only the below-minimum rule could pick a victim:
    // before the change applies, the newcomer's registration prunes the lowest score (oldest) — not by the new minimum
    const tx = w.neurons.connect(newcomer).register(w.brainId, h.ROLE_VALIDATOR, h.peerIdOf(555), "0x");
    const rc = (await (await tx).wait())!;
    const pruned = rc.logs.map((l) => { try { return w.neurons.interface.parseLog(l); } catch { return null; } })
      .find((p) => p?.name === "NeuronPruned");
    console.log(`      registration right after the raise pruned validator uid ${pruned?.args.uid} (stake ${
      await w.staking.totalStake(pruned!.args.hotkey)})`);
    // by score the oldest zero-score seat (uid 0, 400 CBR) goes; by the new minimum the lowest stake (uid 3, 100 CBR)
    expect(pruned!.args.uid, "pruned by the minimum announced a block ago").to.equal(0n);
    await expectSolvent(w);
  });

  it("the Lens shows the pending limits and the block they apply from", async () => {
    const w = await world({ maxValidators: 4 });
    const limits = h.limitsOf({ maxMiners: 40, maxValidators: 4 });
    const tx = w.brains.connect(w.owner).setLimits(w.brainId, { ...limits, minValidatorStake: 301n * h.CBR });
    const rc = (await (await tx).wait())!;
    const [g, t] = await w.brains.timing(w.brainId);
    const at = BigInt(rc.blockNumber);
    const from = g + ((at - g) / t + 1n) * t;
    await expect(tx).to.emit(w.brains, "LimitsUpdated");
    const v = await w.lens.brainView(w.brainId);
    expect(v.brain.limits.minValidatorStake, "in force now").to.equal(100n * h.CBR);
    expect(v.pendingLimits.minValidatorStake, "announced").to.equal(301n * h.CBR);
    expect(v.limitsFromBlock).to.equal(from);
    await h.mineTo(from); // views run at the latest block, `from` − 1: still the old value
    expect((await w.brains.limits(w.brainId)).minValidatorStake).to.equal(100n * h.CBR);
    await h.mineTo(from + 1n);
    expect((await w.brains.limits(w.brainId)).minValidatorStake, "applies from the next epoch").to.equal(301n * h.CBR);
    expect((await w.lens.brainView(w.brainId)).limitsFromBlock, "nothing pending any more").to.equal(0n);
    await expectSolvent(w);
  });
});
