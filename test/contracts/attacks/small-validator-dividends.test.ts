/**
 * Small-validator dividends: a validator with under 3e-4 of the revealed stake used to have its bonds floored to zero
 * for ever. Bonds are kept per unit of stake, so every validator with ≥ 1e-6 of the revealed stake gets dividends
 * within 1% of the float model of the documented rule (test/contracts/yuma-float.ts).
 */
import { expect } from "chai";
import hre from "hardhat";
import * as h from "../helpers";
import { floatEpoch, normalizeFloatRow } from "../yuma-float";

const CBR = h.CBR;

describe("attack: small-validator dividends", () => {
  it("a validator with 1e-4 of the stake earns within 1% of the float rule, every epoch", async () => {
    const env = await h.deployEnv({ initialReward: CBR, halvingInterval: 1_000_000n, unbondingBlocks: 10n });
    const s = await hre.ethers.getSigners();
    const M = 6;
    const brainId = await h.mintBrain(env, s[1], { maxMiners: M, maxValidators: 3, tempo: 40, minValidatorStake: CBR });
    for (let j = 0; j < M; j++) await h.registerMiner(env, brainId, s[2 + j], j);
    const vs = [s[10], s[11], s[12]];
    const stakes = [10_000n * CBR, 5_000n * CBR, 15n * CBR / 10n]; // the small one: 1e-4 of the stake
    for (let i = 0; i < 3; i++) await h.registerValidator(env, brainId, vs[i], i, stakes[i]);
    const addr = await Promise.all(vs.map((v) => v.getAddress()));
    const dense = [
      [100, 90, 80, 70, 60, 50],
      [60, 100, 70, 90, 50, 80],
      [100, 95, 75, 70, 55, 50],
    ];
    let bonds = vs.map(() => new Array<number>(M).fill(0));
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    let epoch = (await env.consensus.epochAt(brainId, now + 1n)) + 1n;
    const report: string[] = [];
    let worst = 0;
    for (let round = 0; round < 4; round++, epoch++) {
      const rows = dense.map((d, i) => ({ uids: d.map((_, j) => j), weights: d, salt: h.salt(round * 10 + i) }));
      await h.gotoCommitWindow(env, brainId, epoch);
      await h.commitAll(env, brainId, epoch, vs, rows);
      await h.gotoRevealWindow(env, brainId, epoch);
      await h.revealAll(env, brainId, epoch, vs, rows);
      await h.gotoSettle(env, brainId, epoch);
      const paid = await h.settleRewards(env, brainId, epoch);
      const f = floatEpoch(
        {
          weights: dense.map(normalizeFloatRow),
          stakes: stakes.map((x) => Number(x) / 1e18),
          minStake: 1,
          validatorSeated: [true, true, true],
          minerSeated: new Array(M).fill(true),
        },
        bonds,
      );
      bonds = f.bonds;
      const got = addr.map((a) => paid.get(a) ?? 0n);
      const total = Number(got.reduce((a, b) => a + b, 0n));
      const small = Number(got[2]) / total;
      const err = Math.abs(small / f.dividend[2] - 1);
      worst = Math.max(worst, err);
      report.push(`epoch ${round}: small validator got ${got[2]} wei = ${small.toExponential(4)} of the pool, float ${f.dividend[2].toExponential(4)}`);
    }
    console.log(`      ${report.join("\n      ")}\n      worst relative error ${worst.toExponential(3)}`);
    expect(worst, report.join("; ")).to.be.lessThan(0.01);
  });
});
