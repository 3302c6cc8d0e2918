/**
 * The fixed-point settlement (nodes/chain/yuma.ts, which the KAT test holds equal to the Solidity) against the float
 * model of the documented rule (test/contracts/yuma-float.ts, written from docs/PROTOCOL.md and independent of the
 * fixed-point code), fuzzed with fast-check over multi-epoch histories: random validator counts, stakes over six
 * orders of magnitude (and one validator at ~1e-6 of the revealed stake), noisy honest weights, dissenters,
 * non-revealers, empty seats — and long histories with decayed and small bonds: validators that put ~1% of the
 * consensus weight on the miners they earn from (their bonds are ~1% of the others'), validators that switch their
 * weight away (their old bonds decay for dozens of epochs). Target: every validator with ≥ 1e-6 of the revealed stake
 * gets dividends within 1% of the float value.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createRng } from "../../../nodes/core/prng.ts";
import { GWEI, normalizeRow, yumaEpoch } from "../../../nodes/chain/yuma.ts";
import { floatEpoch, normalizeFloatRow } from "../../contracts/yuma-float.ts";

interface Case {
  seed: number;
  validators: number;
  miners: number;
  epochs: number;
  /** Share of validators with small bonds (weights 1/100 of the others' on every miner but one outlier). */
  small?: number;
  /** Share of validators that move all their weight to one miner at a random epoch (their other bonds decay). */
  switching?: number;
}

/** Worst relative dividend error over validators with ≥ 1e-6 of the revealed stake, and how many were checked. */
function run(c: Case): { worst: number; checked: number; where: string } {
  const r = createRng(c.seed).next;
  const V = c.validators;
  const M = c.miners;
  // voting stakes in whole gwei (< 2^53 in total, so the float sums are exact integers)
  const gwei = Array.from({ length: V }, () => BigInt(Math.floor(10 ** (9 + r() * 5))));
  if (V > 2) {
    const others = gwei.slice(1).reduce((a, b) => a + b, 0n);
    gwei[0] = (others * 105n) / 100_000_000n + 1n; // ≈ 1.05e-6 of the others' stake
  }
  const minGwei = r() < 0.3 ? BigInt(Math.floor(10 ** (9 + r() * 2))) : 0n;
  const seatedV = Array.from({ length: V }, () => r() < 0.95);
  const seatedM = Array.from({ length: M }, () => r() < 0.9);
  const dissenter = Array.from({ length: V }, () => r() < 0.15);
  const small = Array.from({ length: V }, () => r() < (c.small ?? 0));
  const switchAt = Array.from({ length: V }, (_, i) => (!small[i] && r() < (c.switching ?? 0) ? Math.floor(r() * c.epochs) : -1));
  let bondsFixed = Array.from({ length: V }, () => new Array<bigint>(M).fill(0n));
  let bondsFloat = Array.from({ length: V }, () => new Array<number>(M).fill(0));
  let worst = 0;
  let checked = 0;
  let where = "";
  for (let e = 0; e < c.epochs; e++) {
    const quality = Array.from({ length: M }, () => r());
    const raw: (number[] | null)[] = Array.from({ length: V }, (_, i) => {
      if (r() < 0.12) return null; // does not reveal
      let row = quality.map((q) => {
        const w = dissenter[i] ? r() : q * (0.7 + 0.6 * r());
        return r() < 0.1 ? 0 : Math.max(0, Math.min(65535, Math.round(w * 65535)));
      });
      // small bonds: a hundredth of the weight everywhere but on one outlier miner that gets the rest
      if (small[i]) row = row.map((w, j) => (j === M - 1 ? 65535 : Math.max(1, Math.round(w / 100))));
      // decayed bonds: from switchAt on, only miner 0 (every other bond of this validator decays)
      if (switchAt[i] >= 0 && e >= switchAt[i]) row = row.map((w, j) => (j === 0 ? Math.max(1, w) : 0));
      if (Math.max(...row) === 0) row[0] = 1;
      return row;
    });
    const fixed = yumaEpoch({
      weights: raw.map((row) => (row === null ? null : normalizeRow(row.map((_, j) => j), row, M))),
      stakes: gwei.map((g) => g * GWEI),
      minStake: minGwei * GWEI,
      bonds: bondsFixed,
      validatorSeated: seatedV,
      minerSeated: seatedM,
    });
    const float = floatEpoch(
      {
        weights: raw.map((row) => (row === null ? null : normalizeFloatRow(row))),
        stakes: gwei.map(Number),
        minStake: Number(minGwei),
        validatorSeated: seatedV,
        minerSeated: seatedM,
      },
      bondsFloat,
    );
    bondsFixed = fixed.bonds;
    bondsFloat = float.bonds;
    const revealedStake = fixed.votingStakes.reduce((a, b) => a + b, 0n);
    if (fixed.sumDividends === 0n || revealedStake === 0n) continue;
    for (let i = 0; i < V; i++) {
      const s = fixed.votingStakes[i];
      if (s === 0n || Number(s) / Number(revealedStake) < 1e-6) continue;
      const got = Number(fixed.dividendSums[i]) / Number(fixed.sumDividends);
      const want = float.dividend[i];
      if (want === 0) {
        assert.equal(got, 0, `seed ${c.seed} epoch ${e} validator ${i}: float 0, fixed ${got}`);
        continue;
      }
      const err = Math.abs(got / want - 1);
      checked++;
      if (err > worst) {
        worst = err;
        where = `seed ${c.seed} epoch ${e} validator ${i} (stake share ${(Number(s) / Number(revealedStake)).toExponential(2)}): fixed ${got.toExponential(6)} vs float ${want.toExponential(6)}`;
      }
    }
  }
  return { worst, checked, where };
}

function property(name: string, arb: fc.Arbitrary<Case>, numRuns: number, seed: number, minChecked: number): void {
  test(name, () => {
    let worst = 0;
    let checked = 0;
    let where = "";
    fc.assert(
      fc.property(arb, (c) => {
        const res = run(c);
        checked += res.checked;
        if (res.worst > worst) {
          worst = res.worst;
          where = res.where;
        }
        return res.worst <= 0.01;
      }),
      { numRuns, seed },
    );
    console.log(`checked ${checked} validator-epochs; worst relative error ${worst.toExponential(3)} (${where})`);
    assert.ok(checked > minChecked);
  });
}

property(
  "fixed-point dividends are within 1% of the float rule for every validator with ≥ 1e-6 of the revealed stake",
  fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    validators: fc.integer({ min: 1, max: 32 }),
    miners: fc.integer({ min: 1, max: 48 }),
    epochs: fc.integer({ min: 1, max: 6 }),
  }),
  300,
  20261129,
  1000,
);

property(
  "…and with decayed and small bonds over long histories (up to 40 epochs)",
  fc.record({
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    validators: fc.integer({ min: 2, max: 16 }),
    miners: fc.integer({ min: 2, max: 24 }),
    epochs: fc.integer({ min: 20, max: 40 }),
    small: fc.constantFrom(0.2, 0.4),
    switching: fc.constantFrom(0.2, 0.4),
  }),
  40,
  20261207,
  1000,
);

test("the minimal small-bond case (stakes 9:1, rows [1, 0] and [1, 99]) stays within 1% for 40 epochs", () => {
  let bondsFixed = [[0n, 0n], [0n, 0n]];
  let bondsFloat = [[0, 0], [0, 0]];
  const raw = [[1, 0], [1, 99]];
  let worst = 0;
  for (let e = 0; e < 40; e++) {
    const fixed = yumaEpoch({
      weights: raw.map((row) => normalizeRow([0, 1], row, 2)),
      stakes: [9_000n * GWEI, 1_000n * GWEI],
      bonds: bondsFixed,
      validatorSeated: [true, true],
      minerSeated: [true, true],
    });
    const float = floatEpoch(
      { weights: raw.map(normalizeFloatRow), stakes: [9, 1], minStake: 0, validatorSeated: [true, true], minerSeated: [true, true] },
      bondsFloat,
    );
    bondsFixed = fixed.bonds;
    bondsFloat = float.bonds;
    const got = Number(fixed.dividendSums[1]) / Number(fixed.sumDividends);
    worst = Math.max(worst, Math.abs(got / float.dividend[1] - 1));
  }
  console.log(`small validator: worst relative dividend error over 40 epochs ${worst.toExponential(3)}`);
  assert.ok(worst <= 0.01, `worst ${worst}`);
});

test("consensus and incentive track the float rule (exact median: same consensus on the normalized weights)", () => {
  const r = createRng(5).next;
  for (let t = 0; t < 50; t++) {
    const V = 1 + Math.floor(r() * 32);
    const M = 1 + Math.floor(r() * 32);
    const gwei = Array.from({ length: V }, () => BigInt(Math.floor(10 ** (9 + r() * 5))));
    const raw = Array.from({ length: V }, () => Array.from({ length: M }, () => Math.floor(r() * 4) * 16384));
    raw.forEach((row) => {
      if (Math.max(...row) === 0) row[0] = 1;
    });
    const fixed = yumaEpoch({
      weights: raw.map((row) => normalizeRow(row.map((_, j) => j), row, M)),
      stakes: gwei.map((g) => g * GWEI),
      bonds: raw.map(() => new Array<bigint>(M).fill(0n)),
      validatorSeated: new Array(V).fill(true),
      minerSeated: new Array(M).fill(true),
    });
    const float = floatEpoch(
      {
        weights: raw.map(normalizeFloatRow),
        stakes: gwei.map(Number),
        minStake: 0,
        validatorSeated: new Array(V).fill(true),
        minerSeated: new Array(M).fill(true),
      },
      raw.map(() => new Array<number>(M).fill(0)),
    );
    for (let j = 0; j < M; j++) {
      assert.equal(Number(fixed.consensus[j]) / 65535, float.consensus[j], `trial ${t} miner ${j} consensus`);
      const inc = fixed.sumRank === 0n ? 0 : Number(fixed.ranks[j]) / Number(fixed.sumRank);
      assert.ok(Math.abs(inc - float.incentive[j]) <= 1e-6 + 1e-4 * float.incentive[j], `trial ${t} miner ${j} incentive`);
    }
  }
});
