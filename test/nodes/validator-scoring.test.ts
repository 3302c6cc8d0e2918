import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_SCORING, isCorrect, median, scoreMiner, toWeights, type ChallengeOutcome } from "../../nodes/validator/scoring.ts";
import { compare, sampleContexts } from "../../nodes/validator/challenge.ts";

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

test("sampleContexts maps held-out words into the Brain's vocabulary (unknown words → the unknown id)", () => {
  const vocab = { idOf: (w: string) => ({ the: 1, jury: 2 } as Record<string, number>)[w] ?? 0 };
  let r = 0;
  const contexts = sampleContexts(["the", "jury", "zebra", "the"], vocab, 3, 50, () => (r = (r + 0.37) % 1));
  assert.equal(contexts.length, 50);
  for (const c of contexts) assert.equal(c.length, 2);
  assert.ok(contexts.some((c) => c.includes(0)), "an out-of-vocabulary word becomes id 0");
  assert.throws(() => sampleContexts(["the"], vocab, 3, 1), /shorter than one context/);
});
