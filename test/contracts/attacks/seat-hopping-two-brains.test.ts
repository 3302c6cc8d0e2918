/**
 * Attack: one stake votes in two Brains. A hotkey with 400 CBR — more than the 300 CBR of the honest validators of
 * each of two Brains, less than both together — keeps a validator seat in each Brain only for the blocks it needs:
 * it registers, commits, reveals and deregisters (4 of every 40 blocks), first in one Brain, then in the other. Its
 * reveals are kept for it after it leaves, and each used to vote at settlement with the hotkey's whole stake.
 * Rule: a seat's voting stake for epoch e is the least stake bonded to that Brain (held by a hotkey seated there as a
 * validator) from e's first block until the settlement (or until it left, for a reveal it made before leaving); a
 * seat taken after e began has none. One stake can only be bonded to one Brain at a time, so it backs one Brain's
 * vote for any stretch of time.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import * as h from "../helpers";
import { expectSolvent } from "../solvency";

const CBR = h.CBR;
const TEMPO = 40;
const HONEST = { uids: [0, 1, 2], weights: [50, 30, 20] };
const OWN = { uids: [3], weights: [1] }; // the attacker's own miner holds uid 3 in each Brain

interface Outcome {
  attacker: bigint;
  perBrain: { validatorPaid: bigint; minerPaid: bigint; honestValidators: bigint; honestMiners: bigint }[];
}

async function scenario(hop: boolean): Promise<Outcome> {
  const env = await h.deployEnv({ initialReward: CBR, halvingInterval: 1_000_000n, unbondingBlocks: 10n });
  const s = await hre.ethers.getSigners();
  const [ownerA, ownerB, attacker] = s.slice(1, 4);
  const ownMiner = [s[4], s[5]];
  const honestV = [s.slice(6, 9), s.slice(9, 12)];
  const honestM = [s.slice(12, 15), s.slice(15, 18)];
  const cfg = { maxMiners: 8, maxValidators: 4, tempo: TEMPO, minValidatorStake: 100n * CBR };
  const A = await h.mintBrain(env, ownerA, cfg);
  await mine(17);
  const B = await h.mintBrain(env, ownerB, cfg); // B's epochs start about half an epoch after A's
  const brains = [A, B];
  for (const [k, id] of brains.entries()) {
    for (let j = 0; j < 3; j++) await h.registerMiner(env, id, honestM[k][j], 10 * k + j);
    await (await env.neurons.connect(ownMiner[k]).register(id, h.ROLE_MINER, h.peerIdOf(90 + k), "0x")).wait();
    for (let i = 0; i < 3; i++) await h.registerValidator(env, id, honestV[k][i], 10 * k + i, 100n * CBR);
  }
  const hk = await attacker.getAddress();
  await h.selfStake(env, attacker, 400n * CBR);
  const seat = (id: bigint) =>
    env.neurons.connect(attacker).register(id, h.ROLE_VALIDATOR, h.peerIdOf(77), "0x").then((t) => t.wait());
  if (!hop) await seat(A); // stays in Brain A all along

  const now = BigInt(await hre.ethers.provider.getBlockNumber());
  const eA = (await env.consensus.epochAt(A, now + 1n)) + 1n;
  const [commitA, revealA] = await env.consensus.windows(A, eA);
  let eB = await env.consensus.epochAt(B, commitA);
  while ((await env.consensus.windows(B, eB))[1] < revealA + 10n) eB++;
  const [commitB, revealB] = await env.consensus.windows(B, eB);
  const epochs = [eA, eB];
  const rows = (k: number) => honestV[k].map((_, i) => ({ ...HONEST, salt: h.salt(100 * k + i) }));
  const own = (k: number) => ({ ...OWN, salt: h.salt(500 + k) });
  const commitOwn = async (k: number) =>
    h.commitAll(env, brains[k], epochs[k], [attacker], [own(k)]);

  await h.mineTo(commitA);
  await h.commitAll(env, A, eA, honestV[0], rows(0));
  if (!hop) await commitOwn(0);
  await h.mineTo(commitB > commitA + 4n ? commitB : commitA + 4n);
  await h.commitAll(env, B, eB, honestV[1], rows(1));
  if (hop) {
    await h.mineTo(revealA - 3n); // the last blocks of A's epoch
    await seat(A);
    await commitOwn(0);
  }
  await h.mineTo(revealA);
  if (hop) {
    await h.revealAll(env, A, eA, [attacker], [own(0)]);
    await (await env.neurons.connect(attacker).deregister(A)).wait();
  } else {
    await h.revealAll(env, A, eA, [attacker], [own(0)]);
  }
  await h.revealAll(env, A, eA, honestV[0], rows(0));
  if (hop) {
    await h.mineTo(revealB - 3n);
    await seat(B);
    await commitOwn(1);
  }
  await h.mineTo(revealB);
  if (hop) {
    await h.revealAll(env, B, eB, [attacker], [own(1)]);
    await (await env.neurons.connect(attacker).deregister(B)).wait();
  }
  await h.revealAll(env, B, eB, honestV[1], rows(1));

  let attackerGot = 0n;
  const perBrain: Outcome["perBrain"] = [];
  for (const [k, id] of brains.entries()) {
    await h.gotoSettle(env, id, epochs[k]);
    const paid = await h.settleRewards(env, id, epochs[k]);
    const [log] = await env.consensus.queryFilter(env.consensus.filters.EpochSettled(id, epochs[k]));
    attackerGot += (paid.get(hk) ?? 0n) + (await env.consensus.minerPending(id, 3));
    let honestValidators = 0n;
    for (const v of honestV[k]) honestValidators += paid.get(await v.getAddress()) ?? 0n;
    let honestMiners = 0n;
    for (let j = 0; j < 3; j++) honestMiners += await env.consensus.minerPending(id, j);
    perBrain.push({ validatorPaid: log.args.validatorPaid, minerPaid: log.args.minerPaid, honestValidators, honestMiners });
  }
  attackerGot += await env.consensus.claimable(hk);
  await expectSolvent(env, hop ? "hopping" : "staying");
  return { attacker: attackerGot, perBrain };
}

const cbr = (x: bigint) => (Number(x) / 1e18).toFixed(2);

describe("attack: one stake votes in two Brains (seat hopping)", () => {
  it("the hopper earns no more than staying in one Brain, and the honest validators keep their share", async () => {
    const stay = await scenario(false);
    const hop = await scenario(true);
    const line = (o: Outcome) =>
      `attacker ${cbr(o.attacker)} CBR; ` +
      o.perBrain
        .map((b, k) => `Brain ${"AB"[k]}: honest validators ${cbr(b.honestValidators)} of ${cbr(b.validatorPaid)}, honest miners ${cbr(b.honestMiners)} of ${cbr(b.minerPaid)}`)
        .join("; ");
    console.log(`      staying in A: ${line(stay)}\n      hopping A→B:  ${line(hop)}`);
    expect(hop.attacker, "the hopper's take vs staying in one Brain").to.be.lte(stay.attacker);
    for (const b of hop.perBrain) {
      expect(b.honestValidators, "honest validators keep the validator pool").to.equal(b.validatorPaid);
      expect(b.honestMiners, "honest miners keep the miner pool").to.equal(b.minerPaid);
      expect(b.validatorPaid).to.be.gt(0n);
    }
  });
});
