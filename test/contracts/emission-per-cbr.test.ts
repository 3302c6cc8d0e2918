/**
 * Measurement for a design decision (docs/PROTOCOL.md "Emission per CBR: a self-owned Brain and a shared one"): what
 * each role earns per CBR when one party is owner, validator and miner of its own Brain, and when the roles belong to
 * different parties in a shared Brain. Emission follows the stake bonded to a Brain's validators, so a CBR earns its
 * Brain the same emission anywhere; a self-owned Brain keeps all of it (owner 18% + miners 41% + validators 41%),
 * while a delegator in a shared Brain keeps its stake's part of the validator pool after the take:
 * validatorBps · (1 − take) = 0.41 · 0.82 = 0.3362 of it. The ratio the chain pays must be the one documented.
 */
import { expect } from "chai";
import hre from "hardhat";
import type { Signer } from "ethers";
import * as h from "./helpers";
import { expectSolvent } from "./solvency";

const CBR = h.CBR;
const TEMPO = 40;
const EPOCHS = 4;

describe("emission per CBR: a self-owned Brain and a shared one", () => {
  it("the self-owned Brain earns 1 / (validatorBps·(1 − take)) times a delegator's yield per CBR", async function () {
    this.timeout(300_000);
    const env = await h.deployEnv({ initialReward: CBR, halvingInterval: 10_000_000n, unbondingBlocks: 10n });
    const s = await hre.ethers.getSigners();
    const [farmer, sharedOwner, delegator] = s.slice(1, 4);
    const farmMinerKey = s[4];
    const validators = s.slice(5, 9);
    const miners = s.slice(9, 12);
    const addr = (x: Signer) => x.getAddress();
    // both Brains minted in one block so that their epochs line up
    for (const who of [farmer, sharedOwner]) {
      await (await env.token.transfer(await addr(who), 10_000n * CBR)).wait();
      await (await env.token.connect(who).approve(await env.brains.getAddress(), hre.ethers.MaxUint256)).wait();
    }
    await hre.network.provider.send("evm_setAutomine", [false]);
    const mintAs = (who: Signer) =>
      env.brains.connect(who).mintBrain(hre.ethers.id("m"), hre.ethers.id("f"), "u", TEMPO, h.limitsOf({ maxMiners: 8, maxValidators: 4 }));
    const t1 = await mintAs(farmer);
    const t2 = await mintAs(sharedOwner);
    await hre.network.provider.send("evm_mine", []);
    await hre.network.provider.send("evm_setAutomine", [true]);
    const farmMint = (await t1.wait())!;
    await t2.wait();
    const farm = 1n;
    const shared = 2n;
    const burnedOf = async (id: bigint) => (await env.brains.queryFilter(env.brains.filters.BrainMinted(id)))[0].args.feeBurned;
    // the farm: one party — its owner key stakes 1,000 CBR and validates; its miner key mines
    await h.registerValidator(env, farm, farmer, 1, 1_000n * CBR);
    await h.registerMiner(env, farm, farmMinerKey, 2);
    // the shared Brain: four validators (400/300/200/100 CBR), three miners, and a 1,000 CBR delegator on validator 0
    const own = [400n, 300n, 200n, 100n].map((x) => x * CBR);
    for (let i = 0; i < 4; i++) await h.registerValidator(env, shared, validators[i], 10 + i, own[i]);
    for (let j = 0; j < 3; j++) await h.registerMiner(env, shared, miners[j], 20 + j);
    await (await env.token.transfer(await addr(delegator), 1_000n * CBR)).wait();
    await (await env.token.connect(delegator).approve(await env.staking.getAddress(), hre.ethers.MaxUint256)).wait();
    const v0 = await addr(validators[0]);
    await (await env.staking.connect(delegator).stake(v0, 1_000n * CBR)).wait();
    const take = BigInt((await env.staking.takeInfo(v0))[0]);

    // every shared validator reveals the same weights, so dividends follow stake; the farm backs its own miner
    const sharedRow = (k: number) => validators.map((_, i) => ({ uids: [0, 1, 2], weights: [50, 30, 20], salt: h.salt(100 * k + i) }));
    const farmRow = (k: number) => [{ uids: [0], weights: [1], salt: h.salt(100 * k + 99) }];
    const balance = async (x: Signer) => env.token.balanceOf(await addr(x));
    const pendingOf = async (who: Signer, hk: string) => (await env.staking.positionOf(await addr(who), hk))[1];
    const now = BigInt(await hre.ethers.provider.getBlockNumber());
    const first = (await env.consensus.epochAt(farm, now + 1n)) + 1n;
    // the first epoch settles each Brain's earlier accrual back to the schedule; the measurement starts after it
    type Snap = { farmParty: bigint; delegator: bigint; sharedOwner: bigint; validators: bigint[]; miners: bigint[] };
    const snap = async (): Promise<Snap> => ({
      farmParty:
        (await balance(farmer)) + (await pendingOf(farmer, await addr(farmer))) + (await env.staking.hotkeyInfo(await addr(farmer)))[2] +
        (await env.consensus.minerPending(farm, 0)),
      delegator: await pendingOf(delegator, v0),
      sharedOwner: await balance(sharedOwner),
      validators: await Promise.all(
        validators.map(async (v) => (await pendingOf(v, await addr(v))) + (await env.staking.hotkeyInfo(await addr(v)))[2]),
      ),
      miners: await Promise.all([0, 1, 2].map((j) => env.consensus.minerPending(shared, j))),
    });
    let start: Snap | undefined;
    let emitted = { farm: 0n, shared: 0n };
    for (let e = first; e < first + BigInt(EPOCHS + 1); e++) {
      await h.gotoCommitWindow(env, farm, e);
      await h.commitAll(env, shared, e, validators, sharedRow(Number(e)));
      await h.commitAll(env, farm, e, [farmer], farmRow(Number(e)));
      await h.gotoRevealWindow(env, farm, e);
      await h.revealAll(env, shared, e, validators, sharedRow(Number(e)));
      await h.revealAll(env, farm, e, [farmer], farmRow(Number(e)));
      await h.gotoSettle(env, farm, e);
      if (e === first + 1n) start = await snap();
      for (const id of [shared, farm]) {
        const rc = (await (await env.consensus.settle(id, e, 1000)).wait())!;
        if (e === first) continue;
        for (const l of rc.logs) {
          try {
            const p = env.consensus.interface.parseLog(l);
            if (p?.name === "EpochSettled") emitted = id === farm ? { ...emitted, farm: emitted.farm + p.args.emission } : { ...emitted, shared: emitted.shared + p.args.emission };
          } catch {
            /* another contract's log */
          }
        }
      }
    }
    const end = await snap();
    const d = (k: "farmParty" | "delegator" | "sharedOwner") => end[k] - start![k];
    const perCbr = (x: bigint, stake: bigint) => Number(x) / Number(stake);
    const farmPer = perCbr(d("farmParty"), 1_000n * CBR);
    const delegatorPer = perCbr(d("delegator"), 1_000n * CBR);
    const validatorsPer = own.map((o, i) => perCbr(end.validators[i] - start!.validators[i], o));
    const minersGot = end.miners.map((m, j) => m - start!.miners[j]);
    const sharedStake = own.reduce((a, b) => a + b) + 1_000n * CBR;
    const ratio = farmPer / delegatorPer;
    const expected = 1 / ((Number(await env.emission.validatorBps()) / 10_000) * (1 - Number(take) / 10_000));
    const fmt = (x: number) => x.toFixed(5);
    const burned = await burnedOf(farm);
    const extraPerEpoch = (d("farmParty") - d("delegator")) / BigInt(EPOCHS);
    console.log(
      `      over ${EPOCHS} epochs: the farm Brain (1,000 CBR, one party) emitted ${Number(emitted.farm) / 1e18} CBR, the shared Brain ` +
        `(${Number(sharedStake) / 1e18} CBR) ${Number(emitted.shared) / 1e18} CBR\n` +
        `      per CBR staked: farm party ${fmt(farmPer)} (owner + validator + miner), delegator ${fmt(delegatorPer)}, ` +
        `shared validators (own stake + commission) ${validatorsPer.map(fmt).join(" / ")}\n` +
        `      shared owner ${Number(d("sharedOwner")) / 1e18} CBR, shared miners ${minersGot.map((m) => Number(m) / 1e18).join(" / ")} CBR (no stake)\n` +
        `      farm / delegator per CBR = ${ratio.toFixed(4)} (documented 1/(validatorBps·(1 − take)) = ${expected.toFixed(4)}); ` +
        `the farm's ${Number(burned) / 1e18} CBR mint is paid back by its extra over delegating in ${(Number(burned) / Number(extraPerEpoch)).toFixed(1)} epochs here`,
    );
    expect(farmMint.status).to.equal(1);
    // emission follows stake: per CBR of weight both Brains were emitted the same
    expect(Number(emitted.farm) / 1000).to.be.closeTo(Number(emitted.shared) / Number(sharedStake / CBR), Number(emitted.farm) / 1000 * 1e-6);
    expect(ratio).to.be.closeTo(expected, expected * 0.01);
    await expectSolvent(env);
  });
});
