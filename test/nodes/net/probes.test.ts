import { test } from "node:test";
import assert from "node:assert/strict";
import { COMPRESSED_WORKLOAD } from "../../../nodes/client/workload.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { discriminate, type Dataset } from "../../../scripts/probes/discriminators.ts";
import { runProbeBench } from "../../../scripts/probes/harness.ts";

function synthetic(n: number, shift: number, seed: number): Dataset {
  const rng = createRng(seed);
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    // feature 0 carries `shift` standard-ish units of signal; features 1-3 are noise; 4 is categorical noise
    x.push([rng.next() + label * shift, rng.next(), rng.next() * 10, rng.next() - 0.5, rng.int(3)]);
    y.push(label);
  }
  return { features: [{ name: "signal" }, { name: "n1" }, { name: "n2" }, { name: "n3" }, { name: "cat", categorical: true }], x, y };
}

test("the discriminators find a real difference and find none in noise", () => {
  const separable = discriminate(synthetic(300, 0.9, 1));
  assert.ok(separable.overall > 0.9, `overall ${separable.overall} on a separable feature`);
  assert.equal(separable.perFeature[0]!.feature, "signal");
  assert.ok(separable.perFeature[0]!.accuracy > 0.9);
  const noise = discriminate(synthetic(300, 0, 2));
  assert.ok(noise.overall < 0.6 && noise.perFeature[0]!.accuracy < 0.6, `noise: ${JSON.stringify(noise.perFeature.slice(0, 2))}, overall ${noise.overall}`);
});

test("an operator with both seats cannot tell validator probes from users following the model (small bench:probes run, fails 3σ above chance)",
  { timeout: 600_000 }, async () => {
    const lines: string[] = [];
    const r = await runProbeBench({
      users: 75, realUsers: 0, probes: 75, timelineMs: 120_000, epochs: 6, tempo: 20, workload: COMPRESSED_WORKLOAD, model: "tiny",
      miners: 2, operatorSeats: 2, minerThreads: 1, minerProfile: "relaxed", hosts: 20, seed: 3, log: (l) => lines.push(l),
    });
    assert.ok(r.sessions.users >= 45 && r.sessions.probes >= 45,
      `sessions seen by the operator: ${JSON.stringify(r.sessions)}; ${lines.slice(0, 5).join(" | ")}`);
    assert.ok(r.honest.correct >= 0.8 * r.honest.probeSteps, `the honest miners pass the probes: ${JSON.stringify(r.honest)}`);
    assert.equal(r.honest.wrong, 0, "an honest miner never gives a wrong answer");
    const best = r.report.perFeature[0]!;
    // On n balanced sessions a cross-validated accuracy has a standard deviation of about √(0.25 / n) when nothing
    // tells the classes apart, and the report takes the better of two classifiers. A fixed 60% bar sat 2.5σ above
    // chance at this size: one loaded run in three read 60.8% with logistic regression at 49.4%. The bar is 3σ
    // (never below 60%); the leaks this guards against read 68–100%, and bench:probes measures the ≤ 55% target.
    const n = r.report.samples.users + r.report.samples.probes;
    const bar = Math.max(0.6, 0.5 + 3 * Math.sqrt(0.25 / n));
    assert.ok(r.report.overall <= bar,
      `discriminator accuracy ${r.report.overall} > ${bar.toFixed(3)} on ${n} sessions (LR ${r.report.logisticRegression}, GBT ${r.report.boostedTrees}); best feature ${best.feature} ${best.accuracy}`);
    for (const f of r.report.perFeature) assert.ok(f.accuracy <= 0.7, `feature ${f.feature} alone tells them apart: ${f.accuracy}`);
    // Probes ask health as users do (d candidates of the whole Brain), so "asked both seats" is no tell.
    assert.ok(r.families.collusion! <= 0.65, `collusion features: ${r.families.collusion}`);
  });
