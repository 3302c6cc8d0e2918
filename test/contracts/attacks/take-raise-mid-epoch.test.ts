/**
 * Attack: a take raise charged on an epoch that began at the old take. With tempo 10,000 and the default 7,200-block
 * minimum delay, a raise from 0% to 20% made one block into epoch e applied from block +10,001 and e settles at
 * +15,000: the delegator, who joined e at 0%, was charged 20% of it.
 * Rule: a raise applies only to epochs that begin at or after its effective block (max(tempo, minTakeDelay) blocks
 * after the raise), whenever they settle; `distribute` charges the take in force at the epoch's first block.
 */
import { expect } from "chai";
import hre from "hardhat";
import type { ContractTransactionReceipt } from "ethers";
import * as h from "../helpers";
import { nextEpoch, row, runEpoch, type World } from "../fixture";
import { expectSolvent } from "../solvency";

const CBR = h.CBR;
const TEMPO = 10_000;
const ROWS = (k: number) => [0, 1, 2].map((i) => row([40, 30, 20, 10], 10 * k + i));

function distributed(w: World, rc: ContractTransactionReceipt, hotkey: string): { amount: bigint; take: bigint } {
  for (const l of rc.logs) {
    try {
      const p = w.staking.interface.parseLog(l);
      if (p?.name === "RewardsDistributed" && p.args.hotkey === hotkey) return { amount: p.args.amount, take: p.args.take };
    } catch {
      /* another contract's log */
    }
  }
  throw new Error("no RewardsDistributed for hotkey");
}

describe("attack: take raised one block into an epoch (tempo 10,000)", () => {
  it("a raise applies only to epochs that begin after its delay has passed", async () => {
    const env = await h.deployEnv({ initialReward: CBR, halvingInterval: 10_000_000n });
    const s = await hre.ethers.getSigners();
    const [owner, delegator] = s.slice(1, 3);
    const vs = s.slice(3, 6);
    const miners = s.slice(6, 10);
    const brainId = await h.mintBrain(env, owner, { maxMiners: 8, maxValidators: 3, tempo: TEMPO });
    for (let j = 0; j < miners.length; j++) await h.registerMiner(env, brainId, miners[j], j);
    for (let i = 0; i < vs.length; i++) await h.registerValidator(env, brainId, vs[i], i, [300n, 200n, 100n][i] * CBR);
    const w: World = { ...env, brainId, owner, miners, validators: vs, others: [] };
    const v = vs[0];
    const va = await v.getAddress();
    await (await env.staking.connect(v).setTake(0)).wait(); // advertised: 0%
    await (await env.token.transfer(await delegator.getAddress(), 1_000n * CBR)).wait();
    await (await env.token.connect(delegator).approve(await env.staking.getAddress(), 1_000n * CBR)).wait();
    await (await env.staking.connect(delegator).stake(va, 1_000n * CBR)).wait(); // joins at 0%

    const e = await nextEpoch(w);
    const [start] = await env.consensus.windows(brainId, e);
    await h.mineTo(start + 1n);
    const raise = (await (await env.staking.connect(v).setTake(2_000)).wait())!; // one block into epoch e
    const [, , effective] = await env.staking.takeInfo(va);
    const charged: { epoch: bigint; startBlock: bigint; take: bigint; amount: bigint; delegator: bigint }[] = [];
    for (let k = 0n; k < 3n; k++) {
      const before = (await env.staking.positionOf(await delegator.getAddress(), va))[1];
      await runEpoch(w, e + k, ROWS(Number(k)));
      const rc = (await (await env.consensus.settle(brainId, e + k, 1000)).wait())!;
      const d = distributed(w, rc, va);
      const after = (await env.staking.positionOf(await delegator.getAddress(), va))[1];
      charged.push({ epoch: e + k, startBlock: start + k * BigInt(TEMPO), ...d, delegator: after - before });
    }
    await expectSolvent(env);
    const cbr = (x: bigint) => (Number(x) / 1e18).toFixed(2);
    console.log(
      `      raise at block ${raise.blockNumber - Number(start)} of epoch e, effective at block ${effective - start}; ` +
        charged
          .map((c) => `epoch e+${c.epoch - e} (starts ${c.startBlock - start}, settled at ${c.startBlock - start + BigInt(TEMPO) * 3n / 2n}): ` +
            `take ${cbr(c.take)} of ${cbr(c.amount)} CBR, delegator ${cbr(c.delegator)} CBR`)
          .join("; "),
    );
    for (const c of charged) {
      const expected = c.startBlock >= effective ? (c.amount * 2_000n) / 10_000n : 0n;
      expect(c.take, `take charged on epoch e+${c.epoch - e}, which began at ${c.startBlock - start}`).to.equal(expected);
    }
    expect(charged[2].take, "the raise does apply to the first epoch that begins after its delay").to.be.gt(0n);
  });
});
