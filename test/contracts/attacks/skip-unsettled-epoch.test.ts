/**
 * Attack: skipping an unsettled epoch. When nobody had settled epoch e yet, anyone could settle e + 1 first; settling
 * e then reverted for good and the work revealed for e was paid to nobody (its accrual went to e + 1's miners).
 * Rule: epochs settle in order. An epoch with reveals can be settled from its settle block until its expiry, the
 * opening of epoch e + 2's reveal window (`windows(e + 2).revealFrom`, when e's weights start to be overwritten); a
 * later epoch cannot be settled while an earlier one with reveals is unsettled and unexpired
 * (`EarlierEpochUnsettled`). Each settlement releases only its own epoch's accrual; what an expired epoch leaves
 * unpaid goes back to the emission schedule.
 */
import { expect } from "chai";
import * as h from "../helpers";
import { world, nextEpoch, runEpoch, row } from "../fixture";
import { expectSolvent } from "../solvency";

// e's best miner is uid 0; in every later epoch the validators back uid 1 instead
const ROWS = (k: number) => [0, 1, 2, 3].map((i) => row(k === 0 ? [60, 30, 10, 5, 0, 0] : [5, 60, 30, 10, 0, 0], 10 * k + i));

async function tryTx(p: Promise<{ wait: () => Promise<unknown> }>): Promise<string> {
  try {
    await (await p).wait();
    return "ok";
  } catch (err) {
    const m = /reverted with custom error '([^']+)'/.exec(String(err));
    return m ? m[1] : String(err).slice(0, 80);
  }
}

async function scenario(skip: boolean) {
  const w = await world();
  const e = await nextEpoch(w);
  await runEpoch(w, e, ROWS(0));
  await runEpoch(w, e + 1n, ROWS(1)); // nobody settled e in its window
  const out: string[] = [];
  if (skip) out.push(`settle(e+1) first: ${await tryTx(w.consensus.settle(w.brainId, e + 1n, 1000))}`);
  out.push(`settle(e): ${await tryTx(w.consensus.settle(w.brainId, e, 1000))}`);
  out.push(`settle(e+1): ${await tryTx(w.consensus.settle(w.brainId, e + 1n, 1000))}`);
  const paidFor = async (epoch: bigint) =>
    (await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch))).map((l) => l.args.minerPaid)[0] ?? 0n;
  await expectSolvent(w);
  return { log: out.join(", "), best: await w.consensus.minerPending(w.brainId, 0), paidE: await paidFor(e) };
}

describe("attack: skipping an unsettled epoch", () => {
  it("a later epoch cannot be settled first: e's work is paid", async () => {
    const inOrder = await scenario(false);
    const skipped = await scenario(true);
    const cbr = (x: bigint) => (Number(x) / 1e18).toFixed(2);
    console.log(
      `      in order: ${inOrder.log}; e's miners got ${cbr(inOrder.paidE)} CBR, e's best miner ${cbr(inOrder.best)} CBR over both epochs\n` +
        `      e+1 first: ${skipped.log}; e's miners got ${cbr(skipped.paidE)} CBR, e's best miner ${cbr(skipped.best)} CBR over both epochs`,
    );
    expect(skipped.paidE, "e's miners are paid for e").to.equal(inOrder.paidE);
    expect(skipped.best).to.equal(inOrder.best);
  });

  it("an epoch left unsettled past its expiry cannot be settled; its accrual goes back to the schedule", async () => {
    const w = await world();
    const e = await nextEpoch(w);
    await runEpoch(w, e, ROWS(0));
    const expiry = (await w.consensus.windows(w.brainId, e + 2n))[1];
    await h.mineTo(expiry);
    await expect(w.consensus.settle(w.brainId, e, 1000))
      .to.be.revertedWithCustomError(w.consensus, "EpochExpired")
      .withArgs(e, expiry);
    // the next epoch with reveals settles; e's accrual (and e+1's, e+2's: nobody revealed them) is recycled, and the
    // settled epoch is paid its own blocks only
    const f = e + 3n;
    const [fStart, fEnd] = await w.consensus.windows(w.brainId, f);
    await runEpoch(w, f, ROWS(3));
    // nothing was ever settled: everything the Brain accrued before f began goes back, from its first weight on
    const [firstWeight] = await w.emission.queryFilter(w.emission.filters.BrainWeightChanged(w.brainId));
    const eStart = BigInt(firstWeight.blockNumber);
    const tx = w.consensus.settle(w.brainId, f, 1000);
    const rc = (await (await tx).wait())!;
    const ev = rc.logs
      .map((l) => { try { return w.emission.interface.parseLog(l); } catch { return null; } })
      .filter((p) => p !== null);
    const recycled = ev.find((p) => p!.name === "Recycled")!.args.amount as bigint;
    const released = ev.find((p) => p!.name === "Released")!.args.total as bigint;
    const reward = await w.emission.initialReward();
    console.log(`      recycled ${recycled} wei (blocks ${eStart}..${fStart}: e, e+1, e+2 and the blocks before e), released ${released} ` +
      `wei for epoch e+3 (blocks ${fStart}..${fEnd})`);
    // one Brain holds all the weight: it accrues the whole schedule of its blocks (to a few wei of rounding)
    expect(recycled).to.be.closeTo(reward * (fStart - eStart), 10n ** 6n);
    expect(released).to.be.closeTo(reward * (fEnd - fStart), 10n ** 6n);
    await expectSolvent(w);
  });
});
