/**
 * Property tests (fast-check) against the real Hardhat EVM: random sequences of stake / unstake / delegate /
 * withdraw / register / deregister / commit-reveal-settle rounds and unauthorized calls, checking after every step:
 *  - stake is conserved: active + unbonding == deposited − withdrawn, and Staking holds at least that;
 *  - token supply never exceeds genesis + the emission schedule up to the current block;
 *  - every settled epoch pays exactly its emission (miners + validators + owner), or mints nothing (forfeit);
 *  - no epoch is settled (paid) twice, no hotkey is paid twice in one settlement;
 *  - privileged paths revert for everyone but their one authorized caller.
 */
import { expect } from "chai";
import hre from "hardhat";
import fc from "fast-check";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "./helpers";
import { world, nextEpoch, type World } from "./fixture";

const GENESIS = 10_000_000n * h.CBR;

async function propertyWorld(): Promise<World & { deposited: bigint }> {
  const w = await world({ maxMiners: 20, maxValidators: 6, immunityPeriod: 0, tempo: 24 });
  for (const a of w.others) {
    await (await w.token.transfer(await a.getAddress(), 5_000n * h.CBR)).wait();
    await (await w.token.connect(a).approve(await w.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    // every actor starts with an own-stake position and a delegation, so unstake/withdraw paths are exercised
    await (await w.staking.connect(a).stake(await a.getAddress(), 100n * h.CBR)).wait();
    await (await w.staking.connect(a).stake(await w.validators[0].getAddress(), 50n * h.CBR)).wait();
  }
  return { ...w, deposited: await w.staking.totalStaked() };
}

type Cmd =
  | { t: "stake"; actor: number; target: number; amount: number }
  | { t: "unstake"; actor: number; target: number; pct: number }
  | { t: "withdraw"; actor: number }
  | { t: "register"; actor: number; validator: boolean }
  | { t: "deregister"; actor: number }
  | { t: "round"; seed: number; revealMask: number; steps: number }
  | { t: "unauthorized"; actor: number; kind: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ t: fc.constant("stake" as const), actor: fc.nat(7), target: fc.nat(11), amount: fc.integer({ min: 1, max: 900 }) }),
  fc.record({ t: fc.constant("unstake" as const), actor: fc.nat(7), target: fc.nat(11), pct: fc.integer({ min: 1, max: 120 }) }),
  fc.record({ t: fc.constant("withdraw" as const), actor: fc.nat(7) }),
  fc.record({ t: fc.constant("register" as const), actor: fc.nat(7), validator: fc.boolean() }),
  fc.record({ t: fc.constant("deregister" as const), actor: fc.nat(7) }),
  fc.record({ t: fc.constant("round" as const), seed: fc.nat(), revealMask: fc.nat(63), steps: fc.constantFrom(16, 1000) }),
  fc.record({ t: fc.constant("unauthorized" as const), actor: fc.nat(7), kind: fc.nat(6) }),
);

/** Reverts we expect from state-dependent commands; anything else fails the property. */
const EXPECTED = /InsufficientStake|NotAValidator|StakeLocked|AlreadyValidating|PeerIdTaken|NothingToWithdraw|StillUnbonding|AlreadyRegistered|NotRegistered|NoPrunableNeuron/;

async function attempt(p: Promise<unknown>): Promise<boolean> {
  try {
    await (await (p as Promise<{ wait: () => Promise<unknown> }>)).wait();
    return true;
  } catch (err) {
    const msg = String((err as Error).message);
    if (!EXPECTED.test(msg)) throw err;
    return false;
  }
}

async function run(w: World & { deposited: bigint }, cmds: Cmd[]): Promise<void> {
  const actors = w.others.slice(0, 8);
  const targets: Signer[] = [...actors, ...w.validators];
  let deposited = w.deposited;
  let withdrawn = 0n;
  const signerOf = new Map<string, Signer>();
  for (const s of [...w.validators, ...w.miners, ...actors]) signerOf.set(await s.getAddress(), s);
  const settledEpochs = new Set<bigint>();

  const check = async () => {
    expect(await w.staking.totalStaked() + (await w.staking.totalUnbonding())).to.equal(deposited - withdrawn);
    expect(await w.token.balanceOf(await w.staking.getAddress())).to.be.gte(deposited - withdrawn);
    const block = BigInt(await hre.ethers.provider.getBlockNumber());
    const schedule = await w.emission.cumulativeSchedule(block + 1n);
    expect(await w.emission.totalMinted()).to.be.lte(schedule);
    expect(await w.token.totalSupply()).to.be.lte(GENESIS + schedule);
  };

  for (const c of cmds) {
    if (c.t === "stake") {
      const actor = actors[c.actor];
      const target = await targets[c.target].getAddress();
      const amount = BigInt(c.amount) * h.CBR;
      if (await attempt(w.staking.connect(actor).stake(target, amount))) deposited += amount;
    } else if (c.t === "unstake") {
      // unstake pct% of one of the actor's positions (the first non-empty one from `target` on); > 100% must revert
      const actor = actors[c.actor];
      const me = await actor.getAddress();
      for (let k = 0; k < targets.length; k++) {
        const target = await targets[(c.target + k) % targets.length].getAddress();
        const [amount] = await w.staking.positionOf(me, target);
        if (amount === 0n) continue;
        const want = (amount * BigInt(c.pct)) / 100n;
        if (want === 0n) break;
        const ok = await attempt(w.staking.connect(actor).unstake(target, want));
        expect(ok).to.equal(want <= amount);
        break;
      }
    } else if (c.t === "withdraw") {
      const actor = actors[c.actor];
      const [amount] = await w.staking.unbonds(await actor.getAddress());
      if (await attempt(w.staking.connect(actor).withdraw())) withdrawn += amount;
    } else if (c.t === "register") {
      const actor = actors[c.actor];
      const role = c.validator ? h.ROLE_VALIDATOR : h.ROLE_MINER;
      await attempt(w.neurons.connect(actor).register(w.brainId, role, h.peerIdOf(200 + c.actor), h.addrsOf(200 + c.actor)));
    } else if (c.t === "deregister") {
      await attempt(w.neurons.connect(actors[c.actor]).deregister(w.brainId));
    } else if (c.t === "unauthorized") {
      const a = actors[c.actor];
      const addr = await a.getAddress();
      const calls = [
        () => w.token.connect(a).mint(addr, 1n),
        () => w.emission.connect(a).release(w.brainId, 0n),
        () => w.emission.connect(a).setSplit(2000, 4000, 4000),
        () => w.staking.connect(a).distribute([addr], [1n], 0n),
        () => w.consensus.connect(a).onNeuronAdded(w.brainId, 0, 0),
        () => w.consensus.connect(a).onNeuronRemoved(w.brainId, 0, 0, addr, [0, 0]),
        () => w.brains.connect(a).setLimits(w.brainId, h.limitsOf({ maxMiners: 20, maxValidators: 6 })),
      ];
      await expect(calls[c.kind]()).to.be.reverted;
    } else {
      // one commit-reveal-settle round over the validators seated right now
      const epoch = await nextEpoch(w);
      const hk = await w.neurons.validatorHotkeys(w.brainId);
      const seated = hk.map((a, i) => ({ a, i })).filter((x) => x.a !== hre.ethers.ZeroAddress);
      let x = c.seed;
      const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
      const rows = seated.map((v) => {
        const uids: number[] = [];
        const weights: number[] = [];
        for (let j = 0; j < 20; j++) {
          if (rnd() < 0.6) {
            uids.push(j);
            weights.push(1 + Math.floor(rnd() * 65535));
          }
        }
        if (uids.length === 0) uids.push(0), weights.push(1);
        return { uids, weights, salt: h.salt(v.i + 100) };
      });
      await h.gotoCommitWindow(w, w.brainId, epoch);
      for (const [k, v] of seated.entries()) {
        const r = rows[k];
        await (await w.consensus.connect(signerOf.get(v.a)!).commit(w.brainId, epoch, h.commitHash(await h.bindingOf(w, w.brainId, signerOf.get(v.a)!), w.brainId, epoch, r.uids, r.weights, r.salt))).wait();
      }
      await h.gotoRevealWindow(w, w.brainId, epoch);
      for (const [k, v] of seated.entries()) {
        if (((c.revealMask >> k) & 1) === 0) continue;
        const r = rows[k];
        await (await w.consensus.connect(signerOf.get(v.a)!).reveal(w.brainId, epoch, r.uids, r.weights, r.salt)).wait();
      }
      await h.gotoSettle(w, w.brainId, epoch);
      const supply0 = await w.token.totalSupply();
      const paidTo = new Set<string>();
      for (let k = 0; k < 100; k++) {
        const rc = await (await w.consensus.settle(w.brainId, epoch, c.steps)).wait();
        for (const l of rc!.logs) {
          const p = (() => {
            try {
              return w.staking.interface.parseLog(l);
            } catch {
              return null;
            }
          })();
          if (p?.name === "RewardsDistributed") {
            expect(paidTo.has(p.args.hotkey), "hotkey paid twice in one settlement").to.equal(false);
            paidTo.add(p.args.hotkey);
          }
        }
        const [s] = await w.consensus.settlementState(w.brainId);
        if (s.phase === 0n) break;
      }
      const ev = await w.consensus.queryFilter(w.consensus.filters.EpochSettled(w.brainId, epoch));
      expect(ev.length).to.equal(1);
      expect(settledEpochs.has(epoch)).to.equal(false);
      settledEpochs.add(epoch);
      const { emission, minerPaid, validatorPaid, ownerPaid } = ev[0].args;
      const minted = (await w.token.totalSupply()) - supply0;
      if (c.revealMask === 0 || seated.length === 0 || minerPaid + validatorPaid + ownerPaid === 0n) {
        expect(minted).to.equal(0n); // forfeited: nothing minted
      } else {
        expect(minerPaid + validatorPaid + ownerPaid).to.equal(emission);
        expect(minted).to.equal(emission);
      }
      await expect(w.consensus.settle(w.brainId, epoch, 1000)).to.be.revertedWithCustomError(w.consensus, "EpochAlreadySettled");
    }
    await check();
  }
  await checkBooks(w, [...actors, ...w.validators], targets);
}

/**
 * End-of-sequence books: Staking can pay every staked, unbonding, owed and commission wei (warm-up and rounding never
 * credit more than was distributed); the hotkeys' totals add up; the Brain's validator stake (its emission weight)
 * equals the total stake of the validators seated now.
 */
async function checkBooks(w: World, stakers: Signer[], hotkeys: Signer[]): Promise<void> {
  let owed = 0n;
  let totals = 0n;
  for (const hk of hotkeys) {
    const a = await hk.getAddress();
    const [total, , commission] = await w.staking.hotkeyInfo(a);
    owed += commission;
    totals += total;
    for (const s of stakers) owed += (await w.staking.positionOf(await s.getAddress(), a))[1];
  }
  const staked = await w.staking.totalStaked();
  expect(totals).to.equal(staked);
  const balance = await w.token.balanceOf(await w.staking.getAddress());
  expect(balance).to.be.gte(staked + (await w.staking.totalUnbonding()) + owed);
  let seatedStake = 0n;
  for (const a of await w.neurons.validatorHotkeys(w.brainId)) {
    if (a !== hre.ethers.ZeroAddress) seatedStake += await w.staking.totalStake(a);
  }
  expect(await w.neurons.brainStake(w.brainId)).to.equal(seatedStake);
  expect(await w.emission.brainWeight(w.brainId)).to.equal(seatedStake);
}

describe("Properties (fast-check on the Hardhat EVM)", () => {
  it("conserves stake, respects the schedule, pays each epoch exactly once and exactly, guards privileged paths", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 4, maxLength: 14 }), async (cmds) => {
        const w = await loadFixture(propertyWorld);
        await run(w, cmds);
      }),
      { numRuns: Number(process.env.CERBERUS_PROPERTY_RUNS ?? "25"), seed: 20261125, endOnFailure: true },
    );
  });

  it("a Brain with a single validator settles (its stake share is the whole 2^32)", async () => {
    const w = await loadFixture(propertyWorld);
    for (const v of w.validators.slice(1)) await (await w.neurons.connect(v).deregister(w.brainId)).wait();
    await run(w, [{ t: "round", seed: 1, revealMask: 1, steps: 1000 }]);
    const [s] = await w.consensus.settlementState(w.brainId);
    expect(s.revealedMask).to.equal(1n);
    expect((await w.consensus.validatorDividends(w.brainId))[0]).to.equal(65535n);
  });
});
