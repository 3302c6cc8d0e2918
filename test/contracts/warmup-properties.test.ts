/**
 * The warm-up ("generation") accounting of Staking against an independent model, on random sequences of stake,
 * unstake, claim and distribute (distribute called by an impersonated Consensus, as settlement calls it).
 * Model: a position's stake added since its hotkey's last distribution is warming; a distribution pays
 * rest = amount − ⌊amount·take/10,000⌋ over the hotkey's active stake (exact rationals here), then every listed
 * hotkey's warming stake becomes active; unstake takes warming first. The contract must never pay more than the model
 * and lose at most its documented rounding (a few wei per position per distribution).
 */
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "./helpers";
import { world, type World } from "./fixture";

interface Pos {
  active: bigint;
  warming: bigint;
  /** rewards owed in the model, as a fraction num/den accumulated per distribution (kept exact as a sum of terms) */
  owedNum: bigint[];
  owedDen: bigint[];
  claimed: bigint;
}

type Cmd =
  | { t: "stake"; s: number; k: number; amount: number }
  | { t: "unstake"; s: number; k: number; pct: number }
  | { t: "claim"; s: number; k: number }
  | { t: "pay"; amounts: [number, number]; only: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("stake" as const), s: fc.nat(3), k: fc.nat(1), amount: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("unstake" as const), s: fc.nat(3), k: fc.nat(1), pct: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("claim" as const), s: fc.nat(3), k: fc.nat(1) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("pay" as const),
      amounts: fc.tuple(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 1_000 })),
      only: fc.nat(2), // 0: both hotkeys listed, 1: only hotkey 0, 2: only hotkey 1
    }),
  },
);

async function setup(): Promise<World> {
  const w = await world();
  for (const a of w.others.slice(0, 4)) {
    await (await w.token.transfer(await a.getAddress(), 100_000n * h.CBR)).wait();
    await (await w.token.connect(a).approve(await w.staking.getAddress(), hre.ethers.MaxUint256)).wait();
  }
  return w;
}

describe("Staking warm-up against a model (fast-check)", () => {
  it("pays every position what the generation rule says, never more", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 30 }), async (cmds) => {
        const w = await loadFixture(setup);
        const stakers: Signer[] = w.others.slice(0, 4);
        const hotkeys = await Promise.all(w.validators.slice(0, 2).map((v) => v.getAddress()));
        const ca = await w.consensus.getAddress();
        await hre.network.provider.send("hardhat_impersonateAccount", [ca]);
        await hre.network.provider.send("hardhat_setBalance", [ca, "0xDE0B6B3A7640000"]);
        const cs = await hre.ethers.getSigner(ca);
        const take = await Promise.all(hotkeys.map(async (hk) => BigInt((await w.staking.takeInfo(hk))[0])));
        // model state; the validators' own stake (from the fixture) is a position too
        const pos = new Map<string, Pos>();
        const key = (s: string, k: number) => `${s}/${k}`;
        const get = (s: string, k: number) => {
          let p = pos.get(key(s, k));
          if (!p) pos.set(key(s, k), (p = { active: 0n, warming: 0n, owedNum: [], owedDen: [], claimed: 0n }));
          return p;
        };
        for (const [k, hk] of hotkeys.entries()) {
          const [amount] = await w.staking.positionOf(hk, hk);
          get(hk, k).warming = amount; // never distributed to yet: all of it is warming
        }
        let distributions = 0;
        for (const c of cmds) {
          if (c.t === "stake") {
            const s = await stakers[c.s].getAddress();
            const amount = BigInt(c.amount) * h.CBR;
            await (await w.staking.connect(stakers[c.s]).stake(hotkeys[c.k], amount)).wait();
            get(s, c.k).warming += amount;
          } else if (c.t === "unstake") {
            const s = await stakers[c.s].getAddress();
            const p = get(s, c.k);
            const amount = ((p.active + p.warming) * BigInt(c.pct)) / 100n;
            if (amount === 0n) continue;
            await (await w.staking.connect(stakers[c.s]).unstake(hotkeys[c.k], amount)).wait();
            const fromWarming = amount < p.warming ? amount : p.warming;
            p.warming -= fromWarming;
            p.active -= amount - fromWarming;
          } else if (c.t === "claim") {
            const s = await stakers[c.s].getAddress();
            const [, pending] = await w.staking.positionOf(s, hotkeys[c.k]);
            if (pending === 0n) continue;
            await (await w.staking.connect(stakers[c.s]).claimRewards(hotkeys[c.k])).wait();
            get(s, c.k).claimed += pending;
          } else {
            const listed = c.only === 0 ? [0, 1] : [c.only - 1];
            const amounts = listed.map((k) => BigInt(c.amounts[k]) * 10n ** 15n);
            const total = amounts.reduce((a, b) => a + b, 0n);
            if (total !== 0n) await (await w.token.transfer(await w.staking.getAddress(), total)).wait();
            await (await w.staking.connect(cs).distribute(listed.map((k) => hotkeys[k]), amounts)).wait();
            distributions += 1;
            for (const [i, k] of listed.entries()) {
              const amount = amounts[i];
              const rest = amount - (amount * take[k]) / 10_000n;
              const mine = [...pos.entries()].filter(([id]) => id.endsWith(`/${k}`));
              const active = mine.reduce((a, [, p]) => a + p.active, 0n);
              if (amount !== 0n && active !== 0n) {
                for (const [, p] of mine) {
                  p.owedNum.push(rest * p.active);
                  p.owedDen.push(active);
                }
              }
              for (const [, p] of mine) {
                p.active += p.warming;
                p.warming = 0n;
              }
            }
          }
        }
        for (const [id, p] of pos) {
          const [s, kk] = id.split("/");
          const k = Number(kk);
          const [amount, warming, pending] = await w.staking.positionInfo(s, hotkeys[k]);
          expect(amount, `${id} amount`).to.equal(p.active + p.warming);
          expect(warming, `${id} warming`).to.equal(p.warming);
          // model owed (exact) vs contract pending + claimed: never above, below by rounding only
          let floorSum = 0n;
          let ceilSum = 0n;
          for (let i = 0; i < p.owedNum.length; i++) {
            floorSum += p.owedNum[i] / p.owedDen[i];
            ceilSum += (p.owedNum[i] + p.owedDen[i] - 1n) / p.owedDen[i];
          }
          const paid = pending + p.claimed;
          expect(paid, `${id} paid more than the model`).to.be.lte(ceilSum);
          expect(floorSum - paid, `${id} rounding loss`).to.be.lte(BigInt(2 * (distributions + 1)) * 1_000n);
        }
        await hre.network.provider.send("hardhat_stopImpersonatingAccount", [ca]);
      }),
      { numRuns: Number(process.env.CERBERUS_PROPERTY_RUNS ?? "20"), seed: 20261129, endOnFailure: true },
    );
  });
});
