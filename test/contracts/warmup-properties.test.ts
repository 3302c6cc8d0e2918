/**
 * The warm-up accounting of Staking against an independent model, on random sequences of stake, unstake, claim,
 * moving to the next epoch and distribute (called by an impersonated Consensus with an epoch's start block, as
 * settlement calls it). Model: each stake is a lot that is ready for epochs starting at or after the first epoch start
 * after its block (the hotkey's Brain grid); a distribution for the epoch starting at B first activates every lot ready
 * by B, then pays rest = amount − ⌊amount·take/10,000⌋ over the hotkey's active stake (exact rationals here); unstake
 * takes warming first, newest first. The documented bounds are modelled too: at most 3 live ready-blocks per hotkey
 * (beyond, the newest waits for the new stake) and 2 per position (beyond, its newer one waits). The contract must
 * never pay more than the model and lose at most its documented rounding (a few wei per position per distribution).
 */
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "./helpers";
import { world, type World } from "./fixture";

interface Lot {
  amount: bigint;
  readyAt: bigint;
}

interface Pos {
  active: bigint;
  lots: Lot[]; // warming stake by the epoch start it is ready for
  /** rewards owed in the model, as a fraction num/den accumulated per distribution (kept exact as a sum of terms) */
  owedNum: bigint[];
  owedDen: bigint[];
  claimed: bigint;
}

type Cmd =
  | { t: "stake"; s: number; k: number; amount: number }
  | { t: "unstake"; s: number; k: number; pct: number }
  | { t: "claim"; s: number; k: number }
  | { t: "next" }
  | { t: "pay"; amounts: [number, number]; only: number; lag: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("stake" as const), s: fc.nat(1), k: fc.nat(1), amount: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("unstake" as const), s: fc.nat(3), k: fc.nat(1), pct: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("claim" as const), s: fc.nat(3), k: fc.nat(1) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("next" as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("pay" as const),
      amounts: fc.tuple(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 1_000 })),
      only: fc.nat(2), // 0: both hotkeys listed, 1: only hotkey 0, 2: only hotkey 1
      lag: fc.nat(1), // the epoch paid: the current one (0) or the one before (1)
    }),
  },
);

async function asConsensus(w: World): Promise<Signer> {
  const ca = await w.consensus.getAddress();
  await hre.network.provider.send("hardhat_impersonateAccount", [ca]);
  await hre.network.provider.send("hardhat_setBalance", [ca, "0xDE0B6B3A7640000"]);
  return hre.ethers.getSigner(ca);
}

async function epochStartNow(w: World, back = 0n): Promise<bigint> {
  const cur = await w.consensus.epochAt(w.brainId, BigInt(await hre.ethers.provider.getBlockNumber()) + 1n);
  return (await w.consensus.windows(w.brainId, cur >= back ? cur - back : 0n))[0];
}

async function setup(): Promise<World> {
  const w = await world();
  for (const a of w.others.slice(0, 4)) {
    await (await w.token.transfer(await a.getAddress(), 100_000n * h.CBR)).wait();
    await (await w.token.connect(a).approve(await w.staking.getAddress(), hre.ethers.MaxUint256)).wait();
  }
  // the validators' own stake (made before their seats) is activated by a first, empty distribution an epoch later
  await h.mineTo((await w.consensus.windows(w.brainId, (await w.consensus.epochAt(w.brainId, await hre.ethers.provider.getBlockNumber())) + 1n))[0]);
  const cs = await asConsensus(w);
  const hotkeys = await Promise.all(w.validators.slice(0, 2).map((v) => v.getAddress()));
  await (await w.staking.connect(cs).distribute(hotkeys, [0n, 0n], await epochStartNow(w))).wait();
  await hre.network.provider.send("hardhat_stopImpersonatingAccount", [await w.consensus.getAddress()]);
  return w;
}

/** First epoch start after block b on the Brain's grid (genesis g, tempo t). */
function readyAt(b: bigint, g: bigint, t: bigint): bigint {
  return b < g ? g : g + ((b - g) / t + 1n) * t;
}

describe("Staking warm-up against a model (fast-check)", () => {
  it("pays every position what the epoch-start rule says, never more", async () => {
    const seen = { hotkeyFull: 0, positionFull: 0, lagged: 0 }; // the bounded paths the runs went through
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 5, maxLength: 40 }), async (cmds) => {
        const w = await loadFixture(setup);
        const stakers: Signer[] = w.others.slice(0, 4);
        const hotkeys = await Promise.all(w.validators.slice(0, 2).map((v) => v.getAddress()));
        const ca = await w.consensus.getAddress();
        const cs = await asConsensus(w);
        const [g, t] = await w.brains.timing(w.brainId);
        const live: bigint[][] = [[], []]; // per hotkey, the ready blocks of its live generations, oldest first
        const take = await Promise.all(hotkeys.map(async (hk) => BigInt((await w.staking.takeInfo(hk))[0])));
        // model state; the validators' own stake (from the fixture) is a position too
        const pos = new Map<string, Pos>();
        const key = (s: string, k: number) => `${s}/${k}`;
        const get = (s: string, k: number) => {
          let p = pos.get(key(s, k));
          if (!p) pos.set(key(s, k), (p = { active: 0n, lots: [], owedNum: [], owedDen: [], claimed: 0n }));
          return p;
        };
        const warming = (p: Pos) => p.lots.reduce((a, l) => a + l.amount, 0n);
        const mine = (k: number) => [...pos.entries()].filter(([id]) => id.endsWith(`/${k}`));
        for (const [k, hk] of hotkeys.entries()) {
          const [amount] = await w.staking.positionOf(hk, hk);
          get(hk, k).active = amount; // activated in setup()
        }
        let distributions = 0;
        for (const c of cmds) {
          if (c.t === "stake") {
            const s = await stakers[c.s].getAddress();
            const amount = BigInt(c.amount) * h.CBR;
            const rc = await (await w.staking.connect(stakers[c.s]).stake(hotkeys[c.k], amount)).wait();
            let r = readyAt(BigInt(rc!.blockNumber), g, t);
            const gens = live[c.k];
            const last = gens[gens.length - 1];
            if (last !== undefined && last >= r) r = last;
            else if (gens.length >= 3) {
              seen.hotkeyFull += 1;
              // the newest generation waits for the new stake (its lots in every position)
              for (const [, q] of mine(c.k)) for (const l of q.lots) if (l.readyAt === last) l.readyAt = r;
              gens[gens.length - 1] = r;
            } else gens.push(r);
            const p = get(s, c.k);
            const same = p.lots.find((l) => l.readyAt === r);
            if (same) same.amount += amount;
            else {
              if (p.lots.length >= 2) {
                seen.positionFull += 1;
                // two parts already: the newer one waits with the new stake
                p.lots.sort((a, b) => (a.readyAt < b.readyAt ? -1 : 1));
                p.lots[1].readyAt = r;
                p.lots[1].amount += amount;
              } else p.lots.push({ amount, readyAt: r });
            }
          } else if (c.t === "unstake") {
            const s = await stakers[c.s].getAddress();
            const p = get(s, c.k);
            const amount = ((p.active + warming(p)) * BigInt(c.pct)) / 100n;
            if (amount === 0n) continue;
            await (await w.staking.connect(stakers[c.s]).unstake(hotkeys[c.k], amount)).wait();
            let left = amount;
            p.lots.sort((a, b) => (a.readyAt > b.readyAt ? -1 : 1)); // newest first
            for (const l of p.lots) {
              const x = left < l.amount ? left : l.amount;
              l.amount -= x;
              left -= x;
            }
            p.lots = p.lots.filter((l) => l.amount !== 0n);
            p.active -= left;
          } else if (c.t === "claim") {
            const s = await stakers[c.s].getAddress();
            const [, pending] = await w.staking.positionOf(s, hotkeys[c.k]);
            if (pending === 0n) continue;
            await (await w.staking.connect(stakers[c.s]).claimRewards(hotkeys[c.k])).wait();
            get(s, c.k).claimed += pending;
          } else if (c.t === "next") {
            await h.mineTo(await epochStartNow(w, -1n));
          } else {
            const listed = c.only === 0 ? [0, 1] : [c.only - 1];
            const amounts = listed.map((k) => BigInt(c.amounts[k]) * 10n ** 15n);
            const total = amounts.reduce((a, b) => a + b, 0n);
            const epochStart = await epochStartNow(w, BigInt(c.lag));
            if (c.lag !== 0) seen.lagged += 1;
            if (total !== 0n) await (await w.token.transfer(await w.staking.getAddress(), total)).wait();
            await (await w.staking.connect(cs).distribute(listed.map((k) => hotkeys[k]), amounts, epochStart)).wait();
            distributions += 1;
            for (const [i, k] of listed.entries()) {
              const amount = amounts[i];
              const rest = amount - (amount * take[k]) / 10_000n;
              // activation first: generations ready by the epoch's start, oldest first
              while (live[k].length !== 0 && live[k][0] <= epochStart) {
                const r = live[k].shift()!;
                for (const [, p] of mine(k)) {
                  for (const l of p.lots) if (l.readyAt === r) p.active += l.amount;
                  p.lots = p.lots.filter((l) => l.readyAt !== r);
                }
              }
              const active = mine(k).reduce((a, [, p]) => a + p.active, 0n);
              if (amount !== 0n && active !== 0n) {
                for (const [, p] of mine(k)) {
                  p.owedNum.push(rest * p.active);
                  p.owedDen.push(active);
                }
              }
            }
          }
        }
        for (const [id, p] of pos) {
          const [s, kk] = id.split("/");
          const k = Number(kk);
          const [amount, warm, pending] = await w.staking.positionInfo(s, hotkeys[k]);
          expect(amount, `${id} amount`).to.equal(p.active + warming(p));
          expect(warm, `${id} warming`).to.equal(warming(p));
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
    console.log(`      bounded paths taken: hotkey at 3 live generations ${seen.hotkeyFull}×, position at 2 parts ${seen.positionFull}×, lagged pays ${seen.lagged}×`);
  });
});
