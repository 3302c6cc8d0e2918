/** The dashboard's wording and chart axis, without a browser (the modules are DOM-free). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { axisMax } from "../../../dashboard/src/chart.ts";
import { settledText } from "../../../dashboard/src/settlement.ts";

const CBR = 10n ** 18n;

test("a settled epoch says what it paid, and a forfeited one says it was forfeited (not '100 CBR emitted')", () => {
  assert.equal(settledText({ brainId: 1n, epoch: 4n, emission: 100n * CBR, minerPaid: 41n * CBR, validatorPaid: 41n * CBR, ownerPaid: 18n * CBR }),
    "Brain 1 epoch 4 settled: 100 CBR paid (miners 41, validators 41, owner 18)");
  const forfeited = settledText({ brainId: 1n, epoch: 11n, emission: 100n * CBR, minerPaid: 0n, validatorPaid: 0n, ownerPaid: 0n });
  assert.match(forfeited, /epoch 11 settled: 100 CBR forfeited \(no miner earned a share\), nothing paid/);
  assert.doesNotMatch(forfeited, /emitted|paid \(/);
});

test("the incentive chart's axis is readable when every value is 0 and never passes its bound", () => {
  assert.equal(axisMax([0, 0, 0], 1), 1, "all zeros: the whole share axis, not five ticks of 0.00%");
  assert.equal(axisMax([], 1), 1);
  assert.equal(axisMax([0.3, 0.12], 1), 0.5, "headroom rounded up to a round number");
  assert.equal(axisMax([0.97], 1), 1, "a share never goes past 100%");
  assert.equal(axisMax([0.004]), 0.005);
});
