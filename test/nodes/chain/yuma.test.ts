import { test } from "node:test";
import assert from "node:assert/strict";
import { isCerberusError } from "../../../nodes/core/errors.ts";
import {
  checkWeights,
  cumulativeSchedule,
  epochWindows,
  normalizeRow,
  payout,
  splitTake,
  votingStake,
  weightedMedian,
  yumaEpoch,
} from "../../../nodes/chain/yuma.ts";

test("weightedMedian: largest weight backed by at least half the eligible stake, exact", () => {
  assert.equal(weightedMedian([10n, 20n, 30n], [1n, 1n, 1n], 3n), 20n);
  assert.equal(weightedMedian([10n, 20n, 30n], [1n, 1n, 5n], 7n), 30n);
  assert.equal(weightedMedian([10n, 20n, 30n], [5n, 1n, 1n], 7n), 10n);
  assert.equal(weightedMedian([0n, 65535n], [1n, 1n], 2n), 65535n); // exactly half counts (κ = 1/2)
  // stakes 1:2:3, the two smaller at or above 0.5: exactly half → 0.5 (no share truncation)
  assert.equal(weightedMedian([65535n, 32767n, 0n], [1n, 2n, 3n], 6n), 32767n);
  // abstention: 57% of the revealed but 40% of the eligible stake moves nothing
  assert.equal(weightedMedian([65535n, 0n], [400n, 300n], 1000n), 0n);
  assert.equal(weightedMedian([7n], [0n], 0n), 0n);
  assert.equal(weightedMedian([], [], 5n), 0n);
});

test("voting stake: whole gwei, 0 below the minimum", () => {
  assert.equal(votingStake(10n ** 18n + 999n, 10n ** 18n), 10n ** 9n);
  assert.equal(votingStake(10n ** 18n - 1n, 10n ** 18n), 0n);
  assert.equal(votingStake(999_999_999n, 0n), 0n);
});

test("checkWeights / normalizeRow mirror the reveal rules with typed errors", () => {
  assert.deepEqual(normalizeRow([0, 2], [1, 3], 4), [16383n, 0n, 49151n, 0n]);
  for (const [u, w] of [
    [[], []],
    [[0, 1], [1]],
    [[1, 0], [1, 1]],
    [[0, 4], [1, 1]],
    [[0], [0]],
    [[0], [70000]],
  ] as [number[], number[]][]) {
    assert.throws(() => checkWeights(u, w, 4), (e: unknown) => isCerberusError(e, "INVALID_WEIGHTS"));
  }
});

test("one epoch: a lone dissenter is clipped away and earns no dividends; payout sums to the emission", () => {
  const honest = [30000n, 20000n, 15535n, 0n];
  const r = yumaEpoch({
    weights: [honest, honest, [0n, 0n, 0n, 65535n]],
    stakes: [100n, 100n, 100n].map((x) => x * 10n ** 18n),
    bonds: [0, 1, 2].map(() => [0n, 0n, 0n, 0n]),
    validatorSeated: [true, true, true],
    minerSeated: [true, true, true, true],
  });
  assert.equal(r.consensus[3], 0n);
  assert.equal(r.ranks[3], 0n);
  assert.equal(r.dividendSums[2], 0n);
  assert.ok(r.dividendSums[0] > 0n);
  const p = payout(r, 10n ** 18n + 7n);
  const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
  assert.equal(sum(p.miner) + sum(p.validator) + p.owner, 10n ** 18n + 7n);
  assert.equal(p.miner[3], 0n);
});

test("schedule, windows and take", () => {
  assert.equal(cumulativeSchedule(8n, 100n, 150n), 800n + 200n);
  assert.equal(cumulativeSchedule(8n, 100n, 0n), 0n);
  assert.deepEqual(epochWindows(10n, 40n, 3n), { commitFrom: 130n, revealFrom: 170n, revealTo: 190n, settleFrom: 190n });
  assert.deepEqual(splitTake(1000n, 1800n), { take: 180n, delegators: 820n });
});
