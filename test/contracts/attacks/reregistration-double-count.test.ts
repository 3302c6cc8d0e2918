/**
 * Attack: re-registration counts a stake twice. A validator with 40% of the stake reveals, deregisters and takes
 * another free validator seat of the same Brain before the epoch settles. Its kept reveal voted with its stake and the
 * new seat counted the same stake again in the median's total (1,400 CBR instead of the 1,000 that exist), so the
 * honest 60% no longer reached half of the total on any miner: consensus went to the miner only the attacker backs.
 * Rule (one with the seat-hopping defence): a seat's voting stake for epoch e is the least stake bonded to the Brain
 * through that seat's holder from e's first block until the settlement; leaving a seat unbonds the stake at once, so
 * the new seat, taken after e began, has none for e, and the total stays the stake that exists.
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { nextEpoch, runEpoch, row } from "../fixture";
import { expectSolvent } from "../solvency";

const HONEST = [40, 30, 20, 15, 10, 3]; // honest validators give the attacker's miner (uid 5) a little
const ATTACKER = [0, 0, 0, 0, 0, 1];

async function scenario(reregister: boolean) {
  const env = await h.deployEnv({ initialReward: h.CBR, halvingInterval: 1_000_000n, unbondingBlocks: 10n });
  const s = await hre.ethers.getSigners();
  const [owner, attacker, h1, h2, h3, temp] = s.slice(1, 7);
  const miners = s.slice(7, 13);
  const brainId = await h.mintBrain(env, owner, { maxMiners: 8, maxValidators: 6, tempo: 40 });
  for (let j = 0; j < miners.length; j++) await h.registerMiner(env, brainId, miners[j], j); // uid 5 is the attacker's
  // seats: 0 = honest 300, 1 = free (a validator that left), 2 = the attacker's 400, 3 = honest 200, 4 = honest 100
  await h.registerValidator(env, brainId, h1, 1, 300n * h.CBR);
  await h.registerValidator(env, brainId, temp, 2, 100n * h.CBR);
  await h.registerValidator(env, brainId, attacker, 3, 400n * h.CBR);
  await h.registerValidator(env, brainId, h2, 4, 200n * h.CBR);
  await h.registerValidator(env, brainId, h3, 5, 100n * h.CBR);
  await (await env.neurons.connect(temp).deregister(brainId)).wait();
  const vs = [attacker, h1, h2, h3];
  const rows = [row(ATTACKER, 0), row(HONEST, 1), row(HONEST, 2), row(HONEST, 3)];
  const w = { ...env, brainId, owner, miners, validators: vs, others: [] };
  const epoch = await nextEpoch(w);
  await runEpoch(w, epoch, rows);
  if (reregister) {
    await (await env.neurons.connect(attacker).deregister(brainId)).wait();
    await (await env.neurons.connect(attacker).register(brainId, h.ROLE_VALIDATOR, h.peerIdOf(1234), "0x")).wait();
    const [, , uid] = await env.neurons.uidOf(brainId, await attacker.getAddress());
    expect(uid, "the attacker took another seat").to.equal(1n);
  }
  const paid = await h.settleRewards(env, brainId, epoch);
  const [log] = await env.consensus.queryFilter(env.consensus.filters.EpochSettled(brainId, epoch));
  let honestMiners = 0n;
  for (let j = 0; j < 5; j++) honestMiners += await env.consensus.minerPending(brainId, j);
  const a = await attacker.getAddress();
  await expectSolvent(env, reregister ? "re-registered" : "baseline");
  return {
    emission: log.args.emission,
    minerPaid: log.args.minerPaid,
    attackerMiner: await env.consensus.minerPending(brainId, 5),
    honestMiners,
    attackerDividends: paid.get(a) ?? 0n,
    validatorPaid: log.args.validatorPaid,
  };
}

const pct = (x: bigint, of: bigint) => (of === 0n ? "0" : ((Number(x) / Number(of)) * 100).toFixed(1));

describe("attack: re-registration counts a stake twice", () => {
  it("a validator that reveals, leaves and takes another seat before settlement counts its stake once", async () => {
    const base = await scenario(false);
    const attack = await scenario(true);
    const line = (o: Awaited<ReturnType<typeof scenario>>) =>
      `emission ${o.emission}, attacker's miner ${pct(o.attackerMiner, o.minerPaid)}% of the miner pool, honest miners ` +
      `${o.honestMiners} wei, attacker's dividends ${pct(o.attackerDividends, o.validatorPaid)}% of the validator pool`;
    console.log(`      one seat:       ${line(base)}\n      re-registered:  ${line(attack)}`);
    expect(attack.emission, "the epoch is paid, not forfeited").to.be.gt(0n);
    expect(attack.attackerMiner * base.minerPaid, "attacker's miner share").to.be.lte(base.attackerMiner * attack.minerPaid);
    expect(attack.honestMiners * base.minerPaid, "honest miners' share").to.be.gte(base.honestMiners * attack.minerPaid);
    expect(attack.attackerDividends * base.validatorPaid).to.be.lte(base.attackerDividends * attack.validatorPaid);
  });
});
