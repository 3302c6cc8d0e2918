/**
 * Flash stake (the vote half): a validator with 10% of the stake puts all its weight on its own miner, stakes 10×
 * more one block before `settle` and unstakes right after. Voting stake is min(stake at the block before the epoch
 * began, stake now), so stake added during the epoch neither votes nor earns: its miner gets no more than without
 * the flash.
 */
import { expect } from "chai";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import * as h from "../helpers";
import { world, nextEpoch, row } from "../fixture";

const CBR = h.CBR;
const HONEST = [100, 90, 80, 70, 60, 0]; // miner 5 is the attacker's own miner: honest validators give it nothing

async function scenario(flash: boolean): Promise<{ minerPaid: bigint; attackerMiner: bigint; attackerDividend: bigint; validatorPaid: bigint }> {
  // honest validators 400 + 300 + 200, the attacker 100 (10% of the validator stake)
  const w = await world();
  const epoch = await nextEpoch(w);
  const rows = [0, 1, 2].map((k) => row(HONEST, k));
  rows.push(row([0, 0, 0, 0, 0, 65535], 3));
  await h.gotoCommitWindow(w, w.brainId, epoch);
  await h.commitAll(w, w.brainId, epoch, w.validators, rows);
  await h.gotoRevealWindow(w, w.brainId, epoch);
  await h.revealAll(w, w.brainId, epoch, w.validators, rows);
  const attacker = w.validators[3];
  const a = await attacker.getAddress();
  const [, , settleFrom] = await w.consensus.windows(w.brainId, epoch);
  if (flash) {
    await h.mineTo(settleFrom - 1n);
    await h.selfStake(w, attacker, 1000n * CBR); // 10× its stake, one block before settlement
  } else {
    await h.mineTo(settleFrom);
  }
  const paid = await h.settleRewards(w, w.brainId, epoch);
  if (flash) await (await w.staking.connect(attacker).unstake(a, 1000n * CBR)).wait();
  await mine(1);
  const logs = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch));
  return {
    minerPaid: logs[0].args.minerPaid,
    validatorPaid: logs[0].args.validatorPaid,
    attackerMiner: await w.consensus.minerPending(w.brainId, 5),
    attackerDividend: paid.get(a) ?? 0n,
  };
}

describe("attack: flash stake", () => {
  it("stake added one block before settlement does not vote: the attacker's miner gets no more than without it", async () => {
    const base = await scenario(false);
    const attack = await scenario(true);
    const pct = (x: bigint, of: bigint) => (of === 0n ? "0" : ((Number(x) / Number(of)) * 100).toFixed(2));
    const msg =
      `with the flash the attacker's miner got ${attack.attackerMiner} (${pct(attack.attackerMiner, attack.minerPaid)}% ` +
      `of the miner pool) and the attacker ${attack.attackerDividend} (${pct(attack.attackerDividend, attack.validatorPaid)}% ` +
      `of the validator pool); without it ${base.attackerMiner} and ${base.attackerDividend}`;
    expect(attack.attackerMiner, msg).to.be.at.most(base.attackerMiner);
    expect(attack.attackerDividend, msg).to.be.at.most(base.attackerDividend);
  });
});
