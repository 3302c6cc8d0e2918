/**
 * Known-answer tests: the Solidity settlement (YumaMath via a harness, and the whole Consensus contract on Hardhat's
 * EVM) against the TypeScript reference nodes/chain/yuma.ts on random matrices. Allowed difference: 1 unit.
 */
import { createRng } from "../../../nodes/core/prng.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import hre from "hardhat";
import type {} from "@nomicfoundation/hardhat-toolbox"; // hre.ethers types
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Hex } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import {
  BOND_ONE,
  GWEI,
  decodeBond,
  encodeBond,
  normalizeRow,
  payout,
  stakeShares,
  weightsCommitHash,
  yumaEpoch,
} from "../../../nodes/chain/yuma.ts";

const { ethers } = hre;

const rng = (seed: number): (() => number) => createRng(seed).next;

/** Consensus._start's stake unit: gcd of the eligible voting stakes if eligible/gcd < 2^28, else 0. */
function unitOf(votes: readonly bigint[], eligible: bigint): bigint {
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
  const g = votes.reduce((a, v) => (v === 0n ? a : gcd(a, v)), 0n);
  return g !== 0n && eligible / g < 1n << 28n ? g : 0n;
}

function near(actual: bigint, expected: bigint, what: string): void {
  const d = actual > expected ? actual - expected : expected - actual;
  assert.ok(d <= 1n, `${what}: chain ${actual} vs reference ${expected}`);
}

test("YumaMath.settleGroup matches the reference on random 16-miner × 32-seat groups", async () => {
  await hre.run("compile", { quiet: true });
  const harness = await (await ethers.getContractFactory("YumaHarness")).deploy();
  // trials ≥ 12 are tie-heavy: equal stakes and weights from four values, so many miners' medians are exact 50/50
  // splits that the approximate pass cannot decide (odd trials) — the exact fallback must match the reference
  for (let trial = 0; trial < 18; trial++) {
    const r = rng(1000 + trial);
    const ties = trial >= 12;
    const vMask = trial === 0 ? 0xffffffff : Math.floor(r() * 2 ** 32) >>> 0;
    const seated = Array.from({ length: 32 }, (_, i) => ((vMask >>> i) & 1) === 1);
    const revealedArr = seated.map((s) => s && r() < 0.8);
    const laneMask = trial === 0 ? 0xffff : Math.floor(r() * 65536);
    const stakes = Array.from({ length: 32 }, () =>
      ties ? 1_000n * 10n ** 18n + GWEI : BigInt(Math.floor(r() * 1e6)) * 10n ** 18n,
    );
    // some seats below the minimum: neither vote nor earn
    const eligibleArr = seated.map((x) => x && (ties || r() < 0.95));
    const votes = stakes.map((x, i) => (eligibleArr[i] ? x / GWEI : 0n));
    const eligible = votes.reduce((a, b) => a + b, 0n);
    const voting = revealedArr.map((x, i) => x && eligibleArr[i] && votes[i] > 0n);
    const sh = stakeShares(votes, voting);
    const rows = Array.from({ length: 32 }, () =>
      Array.from({ length: 16 }, () =>
        ties ? BigInt(Math.floor(r() * 4) * 21845) : r() < 0.2 ? 0n : BigInt(Math.floor(r() * 65536)),
      ),
    );
    // bonds as stored (float lanes), over their whole range: large, small, decayed, zero
    const bonds = Array.from({ length: 32 }, () => Array.from({ length: 16 }, () => {
      const x = r();
      const b = x < 0.1 ? 0n : BigInt(Math.floor(Number(2n * BOND_ONE) * r() ** (1 + 6 * r())));
      return decodeBond(encodeBond(b));
    }));
    const pack = (lanes: bigint[]) => lanes.reduce((a, v, l) => a | (v << BigInt(16 * l)), 0n);
    let revealed = 0n;
    voting.forEach((x, i) => {
      if (x) revealed |= 1n << BigInt(i);
    });
    const [rank, cons, bOut, dr] = await harness.settleGroup(
      rows.map((row, i) => (voting[i] ? pack(row) : 0n)),
      bonds.map((b) => pack(b.map((x) => BigInt(encodeBond(x))))),
      sh,
      votes.map((v, i) => (voting[i] ? v : 0n)),
      eligible,
      // even trials: the exact fast path (a common unit of the stakes, as Consensus finds it); odd: the approximate
      // path with the exact fallback (valid for any stakes) — both must give the reference's result
      trial % 2 === 0 ? unitOf(votes, eligible) : 0n,
      revealed,
      BigInt(vMask),
      BigInt(laneMask),
    );
    const ref = yumaEpoch({
      weights: rows.map((row, i) => (revealedArr[i] ? row : null)),
      stakes: stakes.map((x, i) => (eligibleArr[i] ? x : 0n)),
      bonds,
      validatorSeated: seated,
      minerSeated: Array.from({ length: 16 }, (_, l) => ((laneMask >> l) & 1) === 1),
    });
    for (let l = 0; l < 16; l++) {
      near(rank[l], ref.ranks[l], `trial ${trial} rank ${l}`);
      if (ref.sumRank > 0n) near(cons[l], ref.consensus[l], `trial ${trial} consensus ${l}`);
    }
    for (let i = 0; i < 32; i++) {
      for (let l = 0; l < 16; l++) {
        const lane = Number((bOut[i] >> BigInt(16 * l)) & 0xffffn);
        assert.equal(decodeBond(lane), ref.bonds[i][l], `trial ${trial} bond ${i},${l}`);
      }
      // the group returns Σ_j B·R; the stake factor S_i is applied once per epoch (Consensus._rank)
      near(dr[i] * (voting[i] ? votes[i] : 0n), ref.dividendSums[i], `trial ${trial} dividend sum ${i}`);
    }
  }
});

test("Consensus settlement on the EVM matches the reference over several random epochs", async () => {
  await hre.run("compile", { quiet: true });
  const d = await deployCerberus(hre, { initialReward: 10n ** 18n, halvingInterval: 1_000_000n, unbondingBlocks: 5n });
  // No typechain types on the ESM side: the ABI-driven methods are reached through ethers' dynamic Contract.
  type Dynamic = InstanceType<typeof ethers.Contract>;
  const at = async (name: keyof typeof d.contracts): Promise<Dynamic> =>
    (await ethers.getContractAt(name, d.contracts[name].address)) as unknown as Dynamic;
  const as = (c: Dynamic, signer: Parameters<Dynamic["connect"]>[0]): Dynamic => c.connect(signer) as Dynamic;
  const token = await at("CerberusToken");
  const brains = await at("BrainRegistry");
  const staking = await at("Staking");
  const neurons = await at("NeuronRegistry");
  const consensus = await at("Consensus");
  const emission = await at("Emission");
  const [deployer] = await ethers.getSigners();
  const CBR = 10n ** 18n;
  const M = 20; // seats
  const SEATED = 13; // miners 0..12 registered; weights also land on empty seats 13..19
  const V = 5;
  await (await token.approve(d.contracts.BrainRegistry.address, ethers.MaxUint256)).wait();
  const limits = { maxMiners: M, maxValidators: V, minMinerStake: 0n, minValidatorStake: CBR, immunityPeriod: 0 };
  await (await brains.mintBrain(ethers.id("m"), ethers.id("f"), "", 60, limits)).wait();
  const brainId = 1n;
  const fund = async () => {
    const w = ethers.Wallet.createRandom().connect(ethers.provider);
    await hre.network.provider.send("hardhat_setBalance", [w.address, "0x56BC75E2D63100000"]);
    return w;
  };
  const r = rng(7);
  for (let j = 0; j < SEATED; j++) {
    const m = await fund();
    await (await as(neurons, m).register(brainId, 0, "0x00" + j.toString(16).padStart(2, "0"), "0x")).wait();
  }
  const validators = [];
  for (let i = 0; i < V; i++) {
    const v = await fund();
    const stake = BigInt(1 + Math.floor(r() * 1000)) * CBR;
    await (await token.transfer(v.address, stake)).wait();
    await (await as(token, v).approve(d.contracts.Staking.address, stake)).wait();
    await (await as(staking, v).stake(v.address, stake)).wait();
    await (await as(neurons, v).register(brainId, 1, "0x1" + i, "0x")).wait();
    validators.push(v);
  }
  const chainId = (await ethers.provider.getNetwork()).chainId;
  let paidEpochs = 0;
  let bonds = Array.from({ length: V }, () => new Array<bigint>(M).fill(0n));
  const [genesis, tempo] = await brains.timing(brainId);
  const now = async () => BigInt(await ethers.provider.getBlockNumber());
  const goto = async (block: bigint) => {
    const n = await now();
    if (block > n + 1n) await mine(block - n - 1n);
  };
  let epoch = (await now() - genesis) / tempo + 1n;
  for (let round = 0; round < 4; round++, epoch++) {
    const reveals = validators.map((_, i) => {
      const uids: number[] = [];
      const weights: number[] = [];
      for (let j = 0; j < M; j++) {
        if (r() < 0.7) {
          uids.push(j);
          weights.push(1 + Math.floor(r() * 65535));
        }
      }
      if (uids.length === 0) {
        uids.push(0);
        weights.push(1);
      }
      return { uids, weights, salt: ethers.zeroPadValue(ethers.toBeHex(round * 100 + i + 1), 32) as Hex };
    });
    const revealing = validators.map((_, i) => round === 0 || r() < 0.75);
    await goto(genesis + epoch * tempo);
    for (let i = 0; i < V; i++) {
      const x = reveals[i];
      await (await as(consensus, validators[i]).commit(brainId, epoch, weightsCommitHash({ chainId, consensus: d.contracts.Consensus.address as Hex, brainId, epoch,
        hotkey: validators[i].address as Hex, validatorUid: i }, x.uids, x.weights, x.salt))).wait();
    }
    await goto(genesis + (epoch + 1n) * tempo);
    for (let i = 0; i < V; i++) {
      if (!revealing[i]) continue;
      const x = reveals[i];
      await (await as(consensus, validators[i]).reveal(brainId, epoch, x.uids, x.weights, x.salt)).wait();
    }
    await goto(genesis + (epoch + 1n) * tempo + tempo / 2n);
    const stakes = await Promise.all(validators.map((v) => staking.totalStake(v.address)));
    const pendingBefore: bigint[] = await Promise.all(Array.from({ length: M }, (_, j) => consensus.minerPending(brainId, j)));
    // odd rounds settle in chunks of 16 miners (rank scratch + payment phase), even rounds in one call
    const receipts = [];
    for (let k = 0; k < 20; k++) {
      const rc = await (await consensus.settle(brainId, epoch, round % 2 === 1 ? 16 : 1000)).wait();
      receipts.push(rc!);
      const [st] = await consensus.settlementState(brainId);
      if (st.phase === 0n) break;
    }
    if (round % 2 === 1) assert.equal(receipts.length, 4);
    const logs = receipts.flatMap((rc) => rc.logs).flatMap((l) => {
      for (const c of [consensus, staking, emission]) {
        try {
          const p = c.interface.parseLog(l);
          if (p) return [p];
        } catch {
          /* other contract */
        }
      }
      return [];
    });
    const released = logs.find((p) => p.name === "Released");
    const settled = logs.find((p) => p.name === "EpochSettled")!;
    // under half of the eligible stake revealing leaves every consensus at 0 (abstention): the epoch's accrual goes
    // back to the emission schedule
    const E: bigint = released ? released.args.total : 0n;
    const ref = yumaEpoch({
      weights: reveals.map((x, i) => (revealing[i] ? normalizeRow(x.uids, x.weights, M) : null)),
      stakes,
      minStake: CBR,
      bonds,
      validatorSeated: new Array(V).fill(true),
      minerSeated: Array.from({ length: M }, (_, j) => j < SEATED),
    });
    if (!released) {
      assert.equal(ref.sumRank, 0n, `epoch ${epoch} recycled on-chain but the reference has rank`);
      assert.ok(logs.some((p) => p.name === "Recycled"));
    }
    const pay = payout(ref, E);
    for (let i = 0; i < V; i++) {
      for (let j = 0; j < M; j++) near(await consensus.bond(brainId, i, j), ref.bonds[i][j], `epoch ${epoch} bond ${i},${j}`);
    }
    const inc: bigint[] = await consensus.minerIncentives(brainId);
    for (let j = 0; j < M; j++) {
      near((await consensus.minerPending(brainId, j) as bigint) - pendingBefore[j], pay.miner[j], `epoch ${epoch} miner ${j} paid`);
      if (released) near(inc[j], pay.incentiveShares[j], `epoch ${epoch} incentive ${j}`);
    }
    const distributed = new Map<string, bigint>();
    for (const p of logs.filter((p) => p.name === "RewardsDistributed")) distributed.set(p.args.hotkey, p.args.amount);
    for (let i = 0; i < V; i++) {
      near(distributed.get(validators[i].address) ?? 0n, pay.validator[i], `epoch ${epoch} validator ${i} paid`);
      if (!revealing[i]) assert.equal(pay.validator[i], 0n);
    }
    near(settled.args.ownerPaid, pay.owner, `epoch ${epoch} owner`);
    if (released) assert.equal(settled.args.minerPaid + settled.args.validatorPaid + settled.args.ownerPaid, E);
    paidEpochs += released ? 1 : 0;
    bonds = ref.bonds;
  }
  assert.ok(paidEpochs >= 2, "most epochs pay");
  void deployer;
});
