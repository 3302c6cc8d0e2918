import { test } from "node:test";
import assert from "node:assert/strict";
import { median } from "../../nodes/core/stats.ts";
import { DEFAULT_SCORING, isCorrect, scoreMiner, toWeights, type ChallengeOutcome } from "../../nodes/validator/scoring.ts";
import { compare, samplePrompt } from "../../nodes/validator/challenge.ts";
import { planProbes } from "../../nodes/validator/probes.ts";
import { COMPRESSED_WORKLOAD, USER_WORKLOAD, sampleArrivals, sampleSession } from "../../nodes/client/workload.ts";
import { createRng } from "../../nodes/core/prng.ts";

const ok = (ms: number): ChallengeOutcome => ({ answered: true, top1Match: true, maxRelError: 1e-5, ms });
const wrong = (ms: number): ChallengeOutcome => ({ answered: true, top1Match: false, maxRelError: 0.3, ms });
const missing: ChallengeOutcome = { answered: false, top1Match: false, maxRelError: Infinity, ms: 0 };

test("a correct answer needs the right top-1 AND a small error", () => {
  assert.ok(isCorrect(ok(10)));
  assert.ok(!isCorrect({ ...ok(10), maxRelError: 2e-3 }), "right word, logits too far off");
  assert.ok(!isCorrect({ ...ok(10), top1Match: false }));
  assert.ok(!isCorrect(missing));
});

test("accuracy dominates latency: a once-in-eight cheat scores below an always-correct slow miner", () => {
  const slowHonest = scoreMiner(0, Array.from({ length: 8 }, () => ok(6_000)));
  const fastCheat = scoreMiner(1, [...Array.from({ length: 7 }, () => ok(100)), wrong(100)]);
  assert.equal(slowHonest.accuracy, 1);
  assert.ok(slowHonest.latencyFactor < 0.3);
  assert.ok(fastCheat.score < slowHonest.score, `${fastCheat.score} < ${slowHonest.score}`);
  const fastHonest = scoreMiner(2, Array.from({ length: 8 }, () => ok(100)));
  assert.equal(fastHonest.score, 1);
  assert.ok(slowHonest.score >= 1 - DEFAULT_SCORING.latencyWeight);
});

test("an unavailable miner scores zero and is left out of the weights", () => {
  const s = [scoreMiner(3, [missing, missing]), scoreMiner(1, [ok(500), ok(700)]), scoreMiner(2, [ok(500), wrong(500)])];
  assert.equal(s[0]!.score, 0);
  assert.equal(s[1]!.medianMs, 600);
  const w = toWeights(s);
  assert.deepEqual(w.uids, [1, 2], "uids ascending, zero scores omitted");
  assert.equal(w.weights[0], 65_535);
  assert.equal(w.weights[1], Math.round(65_535 * 0.25));
  assert.deepEqual(toWeights([s[0]!]), { uids: [], weights: [] });
});

test("compare: relative error against the reference's range, top-1 over the real vocabulary only", () => {
  const expected = Float32Array.from([0, 1, 2, 50]);
  const o = compare(Float32Array.from([0, 1, 2.001, -9]), expected, 3, 5);
  assert.ok(o.top1Match, "padding logit 3 is ignored");
  assert.ok(Math.abs(o.maxRelError - 0.001 / 2) < 1e-6);
  assert.ok(!compare(Float32Array.from([3, 1, 2, 0]), expected, 3, 5).top1Match);
  assert.equal(median([]), 0);
});

test("samplePrompt takes consecutive held-out words", () => {
  let r = 0;
  const held = ["a", "b", "c", "d", "e"];
  for (let k = 0; k < 20; k++) {
    const p = samplePrompt(held, 3, () => (r = (r + 0.37) % 1)).split(" ");
    assert.equal(p.length, 3);
    const i = held.indexOf(p[0]!);
    assert.deepEqual(p, held.slice(i, i + 3));
  }
  assert.throws(() => samplePrompt(["the"], 3), /shorter than one prompt/);
});

test("workload model: lengths within [1, max] around the median, arrivals uniform over the window", () => {
  const rng = createRng(7);
  const shapes = Array.from({ length: 4_000 }, () => sampleSession(USER_WORKLOAD, rng.next));
  const words = shapes.map((s) => s.words).sort((a, b) => a - b);
  assert.ok(words[0]! >= 1 && words.at(-1)! <= USER_WORKLOAD.maxWords);
  assert.ok(Math.abs(words[2_000]! - USER_WORKLOAD.medianWords) <= 1, `median ${words[2_000]}`);
  const interactive = shapes.filter((s) => s.thinkMs.some((t) => t > 0)).length / shapes.length;
  assert.ok(Math.abs(interactive - USER_WORKLOAD.interactiveShare) < 0.05, `interactive share ${interactive}`);
  assert.ok(shapes.every((s) => s.thinkMs.length === s.words && s.thinkMs[0] === 0));
  const starts = sampleArrivals(4_000, 1_000, rng.next);
  for (let q = 1; q < 4; q++) {
    const inQuarter = starts.filter((t) => t >= (q - 1) * 250 && t < q * 250).length;
    assert.ok(Math.abs(inQuarter - 1_000) < 120, `quarter ${q}: ${inQuarter} of 4,000 starts`);
  }
});

test("probe plan: every miner gets its sessions, spread over the window and shaped like users' sessions", () => {
  const rng = createRng(3);
  const miners = [{ uid: 0, peerId: "a", multiaddrs: [] }, { uid: 5, peerId: "b", multiaddrs: [] }];
  const plan = planProbes(miners, { sessionsPerMiner: 300, windowMs: 60_000, workload: COMPRESSED_WORKLOAD,
    heldOut: ["the", "jury", "said", "it", "was", "fine", "and", "then", "went", "home", "to", "eat", "soup"], random: rng.next });
  assert.equal(plan.length, 600);
  assert.equal(plan.filter((p) => p.miner.uid === 5).length, 300);
  const late = plan.filter((p) => p.startMs >= 45_000).length;
  assert.ok(late > 110 && late < 190, `${late} of 600 probes start in the last quarter (not bunched at the start)`);
  assert.ok(plan.every((p) => p.shape.words >= 1 && p.shape.words <= COMPRESSED_WORKLOAD.maxWords));
  const mean = plan.reduce((s, p) => s + p.shape.words, 0) / plan.length;
  const users = Array.from({ length: 600 }, () => sampleSession(COMPRESSED_WORKLOAD, rng.next).words);
  const userMean = users.reduce((a, b) => a + b, 0) / users.length;
  assert.ok(Math.abs(mean - userMean) < 0.3, `probe mean length ${mean} vs users' ${userMean}`);
});
