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

test("a miner cannot tell validator probes from users (small bench:probes run, fails above 60%)", async () => {
  const r = await runProbeBench({
    mode: "after", users: 70, probes: 70, timelineMs: 80_000, epochs: 2, workload: COMPRESSED_WORKLOAD, model: "tiny",
    minerThreads: 1, legacyStepsPerSession: 4, tailFraction: 0.02, seed: 3,
  });
  assert.ok(r.sessions.users >= 40 && r.sessions.probes >= 40, `sessions seen by the miner: ${JSON.stringify(r.sessions)}`);
  assert.ok(r.sessions.probeStepsCorrect >= 0.8 * r.sessions.probeSteps, "the honest miner passes the probes");
  const best = r.report.perFeature[0]!;
  assert.ok(r.report.overall <= 0.6,
    `discriminator accuracy ${r.report.overall} (LR ${r.report.logisticRegression}, GBT ${r.report.boostedTrees}); best feature ${best.feature} ${best.accuracy}`);
  for (const f of r.report.perFeature) assert.ok(f.accuracy <= 0.7, `feature ${f.feature} alone tells them apart: ${f.accuracy}`);
});
