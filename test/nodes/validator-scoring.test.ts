import { test } from "node:test";
import assert from "node:assert/strict";
import { ksUniform, median } from "../../nodes/core/stats.ts";
import { DEFAULT_SCORING, isCorrect, isWrong, scoreMiner, scoringFor, toWeights, type ChallengeOutcome } from "../../nodes/validator/scoring.ts";
import { compare, roundValueError, samplePrompt } from "../../nodes/validator/challenge.ts";
import { planProbes, probeStartTimes } from "../../nodes/validator/probes.ts";
import { CLI_DEFAULT_WORDS, COMPRESSED_WORKLOAD, USER_WORKLOAD, exactSessions, sampleArrivals, sampleLength, sampleRequest,
  shapeRequest } from "../../nodes/client/workload.ts";
import { createRng } from "../../nodes/core/prng.ts";

const MLP = scoringFor("mlp");
const ok = (ms: number): ChallengeOutcome => ({ answered: true, top1Match: true, maxRelError: 1e-5, ms });
const wrong = (ms: number): ChallengeOutcome => ({ answered: true, top1Match: false, maxRelError: 0.3, ms });
const missing: ChallengeOutcome = { answered: false, top1Match: false, maxRelError: Infinity, ms: 0 };

test("a correct answer needs the right top-1 AND a small error", () => {
  assert.ok(isCorrect(ok(10), MLP));
  assert.ok(!isCorrect({ ...ok(10), maxRelError: 2e-3 }, MLP), "right word, logits too far off");
  assert.ok(!isCorrect({ ...ok(10), top1Match: false }, MLP));
  assert.ok(!isCorrect(missing, MLP));
});

test("one provably wrong answer costs the window: score 0, however many right ones surround it", () => {
  const slowHonest = scoreMiner(0, Array.from({ length: 8 }, () => ok(6_000)), MLP);
  // Before: score = accuracy² × …, so one wrong answer in 100 kept 0.98 of the score and hid among honest misses.
  const rareCheat = scoreMiner(1, [...Array.from({ length: 99 }, () => ok(100)), wrong(100)], MLP);
  assert.equal(slowHonest.accuracy, 1);
  assert.ok(slowHonest.latencyFactor < 0.3);
  assert.equal(rareCheat.wrong, 1);
  assert.equal(rareCheat.score, 0, "weight 0 from this validator");
  assert.deepEqual(toWeights([slowHonest, rareCheat]).uids, [0]);
  // No answer stays soft: a busy honest miner that missed one step in eight keeps most of its score.
  const busyHonest = scoreMiner(2, [...Array.from({ length: 7 }, () => ok(100)), missing], MLP);
  assert.equal(busyHonest.wrong, 0);
  assert.ok(busyHonest.score > 0.7, `${busyHonest.score}`);
  // A top-1 flip within the FHE error bound (a near tie) is not a wrong answer; garbage or NaN is.
  assert.ok(!isWrong({ ...ok(10), top1Match: false, maxRelError: 5e-4 }, MLP));
  assert.ok(isWrong({ ...ok(10), maxRelError: Number.NaN }, MLP));
  assert.ok(!isWrong(missing, MLP));
  const fastHonest = scoreMiner(2, Array.from({ length: 8 }, () => ok(100)), MLP);
  assert.equal(fastHonest.score, 1);
  assert.ok(slowHonest.score >= 1 - DEFAULT_SCORING.latencyWeight);
});

test("an unavailable miner scores zero and is left out of the weights", () => {
  const s = [scoreMiner(3, [missing, missing], MLP), scoreMiner(1, [ok(500), ok(700)], MLP), scoreMiner(2, [ok(500), missing], MLP)];
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

test("a round's scores: the honest CKKS error of a short window is not a wrong answer, a cheater's is", () => {
  // A prefill of 3 rows measured on the test transformer: the scores span 0.033 and reach 0.071, and the honest
  // absolute error was 7.3e-4. Relative to the range (or the magnitude) that read 1.02e-2, past the round plan's
  // tolerance of the time (1e-2), and zeroed an honest miner for the window.
  const want = Float32Array.from([0.071, 0.038, 0.052]);
  const honest = Float32Array.from([0.071 + 7.3e-4, 0.038 - 5e-4, 0.052 + 2e-4]);
  const rule = scoringFor("transformer");
  const o = (err: number): ChallengeOutcome => ({ answered: true, top1Match: true, maxRelError: err, ms: 1 });
  assert.ok(Math.abs(roundValueError(honest, want, 3) - 7.3e-4) < 1e-6, "below a range of 1 the error is in absolute units");
  assert.ok(!isWrong(o(roundValueError(honest, want, 3)), rule));
  // Scores of another query (a stale cache row, a replayed answer) are off by their own size.
  const stale = Float32Array.from([0.045, 0.066, 0.029]);
  assert.ok(isWrong(o(roundValueError(stale, want, 3)), rule));
  // Past a range of 1 the range is the yardstick, as before; only the first n values count.
  const wide = Float32Array.from([-4, 1, 6, 100]);
  assert.ok(Math.abs(roundValueError(Float32Array.from([-4, 1.05, 6, -7]), wide, 3) - 0.05 / 10) < 1e-6);
  assert.equal(roundValueError(Float32Array.from([Number.NaN, 1, 6]), wide, 3), Infinity);
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

test("workload model: session lengths within [1, max] around the median, arrivals uniform over the window", () => {
  const rng = createRng(7);
  const words = Array.from({ length: 4_000 }, () => sampleLength(USER_WORKLOAD.session, rng.next)).sort((a, b) => a - b);
  assert.ok(words[0]! >= 1 && words.at(-1)! <= USER_WORKLOAD.session.maxWords);
  assert.ok(Math.abs(words[words.length >> 1]! - USER_WORKLOAD.session.medianWords) <= 1, `median ${words[words.length >> 1]}`);
  const starts = sampleArrivals(4_000, 1_000, rng.next);
  for (let q = 1; q < 4; q++) {
    const inQuarter = starts.filter((t) => t >= (q - 1) * 250 && t < q * 250).length;
    assert.ok(Math.abs(inQuarter - 1_000) < 120, `quarter ${q}: ${inQuarter} of 4,000 starts`);
  }
});

/** Share of sessions of each length, 1 … max. */
function histogram(lengths: readonly number[], max: number): number[] {
  const h = new Array<number>(max + 1).fill(0);
  for (const n of lengths) h[n]! += 1 / lengths.length;
  return h;
}

test("shaping hides what was asked for: sessions of any request are distributed as the model's, the last one padded", () => {
  const rng = createRng(21);
  const w = USER_WORKLOAD;
  const model = histogram(Array.from({ length: 100_000 }, () => sampleLength(w.session, rng.next)), w.session.maxWords);
  // A 1-word question, the CLI's default, a user's own 37, and a long request spanning many sessions.
  for (const asked of [1, CLI_DEFAULT_WORDS, 37, 200]) {
    const lengths: number[] = [];
    for (let k = 0; k < 20_000; k++) {
      const r = shapeRequest(asked, w, rng.next);
      const total = r.sessions.reduce((a, b) => a + b, 0);
      assert.equal(total, asked + r.padding);
      assert.ok(r.padding >= 0 && r.padding < r.sessions.at(-1)!, "only the last session is padded, and not wholly");
      lengths.push(...r.sessions);
    }
    const seen = histogram(lengths, w.session.maxWords);
    // Total variation distance to the model's lengths: what a miner could learn from one session's length (the
    // sampling noise of these counts alone is about 0.012).
    const tv = seen.reduce((a, p, n) => a + Math.abs(p - model[n]!), 0) / 2;
    assert.ok(tv < 0.03, `${asked} words asked: sessions' lengths differ from the model's by TV ${tv.toFixed(3)}`);
  }
  // Without shaping a session's length is the request's: 20 words asked is always a 20-step session.
  const unshaped = histogram(Array.from({ length: 6_000 }, () => CLI_DEFAULT_WORDS), w.session.maxWords);
  assert.ok(unshaped.reduce((a, p, n) => a + Math.abs(p - model[n]!), 0) / 2 > 0.9);
  assert.throws(() => shapeRequest(0, w), /positive integer/);
  assert.deepEqual(shapeRequest(4, exactSessions(4)), { words: 4, sessions: [4], padding: 0 });
});

test("probe plan: requests spread over the window and drawn as users' requests, naming no miner", () => {
  const rng = createRng(3);
  const plan = planProbes({ requests: 600, windowMs: 60_000, workload: COMPRESSED_WORKLOAD,
    heldOut: ["the", "jury", "said", "it", "was", "fine", "and", "then", "went", "home", "to", "eat", "soup"], random: rng.next });
  assert.equal(plan.length, 600);
  assert.ok(plan.every((p) => !("miner" in p)), "a probe lands where the users' miner choice sends it");
  const late = plan.filter((p) => p.startMs >= 45_000).length;
  assert.ok(late > 110 && late < 190, `${late} of 600 probes start in the last quarter (not bunched at the start)`);
  assert.ok(plan.every((p) => p.words >= 1));
  const mean = plan.reduce((s, p) => s + p.words, 0) / plan.length;
  const users = Array.from({ length: 600 }, () => sampleRequest(COMPRESSED_WORKLOAD, rng.next));
  const userMean = users.reduce((a, b) => a + b, 0) / users.length;
  assert.ok(Math.abs(mean - userMean) < 0.3, `probe mean request ${mean} vs users' ${userMean}`);
});

test("the workload model's requests: the shipped clients' defaults at their shares, SDK apps otherwise", () => {
  const rng = createRng(11);
  const requests = Array.from({ length: 6_000 }, () => sampleRequest(USER_WORKLOAD, rng.next));
  for (const f of USER_WORKLOAD.requests.fixed) {
    const app = USER_WORKLOAD.requests.app;
    // An app asks for the same length now and then: P(log-normal rounds to f.words), here by simulation.
    const appShare = Array.from({ length: 20_000 }, () => sampleLength(app, rng.next)).filter((n) => n === f.words).length / 20_000;
    const want = f.share + (1 - USER_WORKLOAD.requests.fixed.reduce((a, x) => a + x.share, 0)) * appShare;
    const share = requests.filter((n) => n === f.words).length / requests.length;
    assert.ok(Math.abs(share - want) < 0.03, `${f.words}-word requests: ${share} vs ${want}`);
  }
  assert.ok(requests.every((n) => n >= 1 && n <= USER_WORKLOAD.requests.app.maxWords));
});

/**
 * Where in the epoch (block offset / tempo) each probe of a live validator starts: the agent's own start rule
 * (probeStartTimes, the Poisson process the live prober draws its gaps from) over `epochs` epochs.
 */
function startPhases(tempo: number, blockMs: number, epochs: number, sessionsPerEpoch: number, seed: number): number[] {
  const epochMs = tempo * blockMs;
  const rng = createRng(seed);
  return probeStartTimes(0, epochs * epochMs, () => sessionsPerEpoch / epochMs, rng.next).map((t) => (t % epochMs) / epochMs);
}

for (const [tempo, blockMs] of [[100, 2_000], [1_800, 12_000]] as const) {
  test(`probe start times cover the whole epoch at tempo ${tempo}, the tail after the commit deadline included (KS vs uniform)`, () => {
    const phases = startPhases(tempo, blockMs, 40, 16, tempo);
    const deadline = 1 - Math.max(2, tempo / 10) / tempo; // the agent's default commit margin
    const tail = phases.filter((p) => p >= deadline).length / phases.length;
    assert.ok(Math.abs(tail - (1 - deadline)) < 0.04, `${(tail * 100).toFixed(1)}% of probes start after the deadline (expected ≈ ${((1 - deadline) * 100).toFixed(0)}%)`);
    // Every tenth of the epoch gets its share; no probe-free stretch.
    for (let d = 0; d < 10; d++) {
      const share = phases.filter((p) => p >= d / 10 && p < (d + 1) / 10).length / phases.length;
      assert.ok(share > 0.06 && share < 0.14, `tenth ${d}: ${share}`);
    }
    const { p } = ksUniform(phases);
    assert.ok(p > 0.05, `KS p = ${p}`);
  });
}

test("ksUniform: accepts uniform draws and rejects a probe-free tail", () => {
  const rng = createRng(5);
  assert.ok(ksUniform(Array.from({ length: 600 }, rng.next)).p > 0.05);
  // The old plan: starts uniform over the epoch up to 60 s before a deadline 10% before its end (tempo 100, 2 s blocks).
  assert.ok(ksUniform(Array.from({ length: 600 }, () => rng.next() * 0.6)).p < 1e-6);
});
