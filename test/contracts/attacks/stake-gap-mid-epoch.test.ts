/**
 * Attack: two sample points stand for a whole epoch. Voting stake was min(stake at the block before the epoch began,
 * stake at settlement). With tempo 10,000 and the default 7,200-block unbonding, a validator stakes 1,000 CBR the
 * block before epoch e begins, unstakes it at once, withdraws it after the unbonding and stakes it again before e
 * settles: both samples see the stake, though it was out for most of the epoch (and free to be used elsewhere). This
 * works whenever 1.5 × tempo exceeds the unbonding delay.
 * Rule: voting stake is the least stake bonded to the Brain at any point from the epoch's first block until the
 * settlement — a running minimum kept per validator hotkey since the start of each of the last three epochs.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { nextEpoch, row } from "../fixture";
import { expectSolvent } from "../solvency";

const CBR = h.CBR;
const TEMPO = 10_000;
const HONEST = [40, 30, 20, 15, 10, 0];
const OWN = [0, 0, 0, 0, 0, 1]; // the attacker's miner is uid 5

async function scenario(gap: boolean) {
  const env = await h.deployEnv({ initialReward: CBR / 100n, halvingInterval: 10_000_000n }); // default unbonding: 7,200
  expect(await env.staking.unbondingBlocks()).to.equal(7_200n);
  const s = await hre.ethers.getSigners();
  const [owner, attacker, v1, v2, v3] = s.slice(1, 6);
  const miners = s.slice(6, 12);
  const brainId = await h.mintBrain(env, owner, { maxMiners: 8, maxValidators: 4, tempo: TEMPO });
  for (let j = 0; j < miners.length; j++) await h.registerMiner(env, brainId, miners[j], j);
  const vs = [attacker, v1, v2, v3];
  const stakes = [100n, 300n, 200n, 100n].map((x) => x * CBR);
  for (let i = 0; i < vs.length; i++) await h.registerValidator(env, brainId, vs[i], i, stakes[i]);
  const a = await attacker.getAddress();
  await (await env.token.transfer(a, 1_000n * CBR)).wait();
  await (await env.token.connect(attacker).approve(await env.staking.getAddress(), hre.ethers.MaxUint256)).wait();
  const w = { ...env, brainId, owner, miners, validators: vs, others: [] };
  const epoch = await nextEpoch(w);
  const [start, revealFrom] = await env.consensus.windows(brainId, epoch);
  const rows = [row(OWN, 0), row(HONEST, 1), row(HONEST, 2), row(HONEST, 3)];
  if (gap) {
    await h.mineTo(start - 1n);
    await (await env.staking.connect(attacker).stake(a, 1_000n * CBR)).wait(); // the block before the epoch
    await (await env.staking.connect(attacker).unstake(a, 1_000n * CBR)).wait(); // out again at once
  }
  await h.gotoCommitWindow(w, brainId, epoch);
  await h.commitAll(env, brainId, epoch, vs, rows);
  if (gap) {
    const [, release] = await env.staking.unbonds(a);
    await h.mineTo(release);
    await (await env.staking.connect(attacker).withdraw()).wait();
    await (await env.staking.connect(attacker).stake(a, 1_000n * CBR)).wait(); // back before the settlement
  }
  await h.mineTo(revealFrom);
  await h.revealAll(env, brainId, epoch, vs, rows);
  await h.gotoSettle(env, brainId, epoch);
  const outside = gap ? Number((await env.staking.queryFilter(env.staking.filters.Withdrawn(a)))[0].blockNumber) : 0;
  const paid = await h.settleRewards(env, brainId, epoch);
  const [log] = await env.consensus.queryFilter(env.consensus.filters.EpochSettled(brainId, epoch));
  await expectSolvent(env, gap ? "gap" : "baseline");
  return {
    start,
    outside,
    attackerMiner: await env.consensus.minerPending(brainId, 5),
    minerPaid: log.args.minerPaid,
    attackerDividends: paid.get(a) ?? 0n,
    validatorPaid: log.args.validatorPaid,
  };
}

const pct = (x: bigint, of: bigint) => (of === 0n ? "0" : ((Number(x) / Number(of)) * 100).toFixed(1));

describe("attack: two sample points stand for a whole epoch (tempo 10,000, default unbonding)", () => {
  it("stake that left during the epoch and came back before settlement does not vote", async () => {
    const base = await scenario(false);
    const attack = await scenario(true);
    const line = (o: Awaited<ReturnType<typeof scenario>>) =>
      `attacker's miner ${pct(o.attackerMiner, o.minerPaid)}% of the miner pool, attacker ${pct(o.attackerDividends, o.validatorPaid)}% of the validator pool`;
    console.log(
      `      100 CBR all epoch:  ${line(base)}\n      +1,000 CBR only at both samples (withdrawn at block ${attack.outside - Number(attack.start)} ` +
        `of the epoch): ${line(attack)}`,
    );
    expect(attack.attackerMiner * base.minerPaid).to.be.lte(base.attackerMiner * attack.minerPaid);
    expect(attack.attackerDividends * base.validatorPaid).to.be.lte(base.attackerDividends * attack.validatorPaid);
  });
});
