import "../../../nodes/core/polyfills.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CerberusError } from "../../../nodes/core/errors.ts";
import { loadBrainModel, type TxBrainModel } from "../../../nodes/client/brain-model.ts";
import { generateSession, type GeneratedStep } from "../../../nodes/client/generate.ts";
import { exactSessions } from "../../../nodes/client/workload.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { softmax, argmax } from "../../../nodes/model/client-model.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { RoundEvaluator } from "../../../nodes/fhe/round-evaluator.ts";
import { FaultyEvaluator } from "../../../nodes/miner/faulty.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { writeTinyTransformer } from "../../../nodes/train/tiny-tx.ts";
import { outcomesOf, PlaintextReference, probeSession } from "../../../nodes/validator/challenge.ts";
import { isCorrect, scoringFor } from "../../../nodes/validator/scoring.ts";
import { startClientNode, startMiner, type TestMiner } from "../net/fixtures/harness.ts";

// A transformer Brain's word over the network: real libp2p, real node-seal, the miner keeping the encrypted
// key/value cache between words, the shipped plan's three rounds a word (scores → the client's softmax → the FFN
// input → the client's square → logits). Checked against the plaintext reference round by round; a miner that answers
// one kind of round wrongly is caught in that round.
const dir = mkdtempSync(join(tmpdir(), "cerberus-tx-generate-"));
let model: TxBrainModel;
let evaluator: RoundEvaluator;
let honest: TestMiner, faultyScores: TestMiner, faultyRefresh: TestMiner, faultyLogits: TestMiner;
let scoresFaulty: FaultyEvaluator, refreshFaulty: FaultyEvaluator, logitsFaulty: FaultyEvaluator;
let userNode: CerberusNode;
let reference: PlaintextReference;

before(async () => {
  const { vocab } = loadBrownSplits({ maxWords: 20_000 });
  writeTinyTransformer(dir, { words: vocab.words.slice(0, 300) });
  const m = loadBrainModel({ dir, name: "tiny-tx" });
  assert.equal(m.kind, "transformer");
  model = m as TxBrainModel;
  evaluator = await RoundEvaluator.create(model.onnxBytes, model.planOptions);
  scoresFaulty = new FaultyEvaluator(evaluator, { rate: 1, rounds: [0] });
  refreshFaulty = new FaultyEvaluator(evaluator, { rate: 1, rounds: [1] });
  logitsFaulty = new FaultyEvaluator(evaluator, { rate: 1, rounds: [2] });
  honest = await startMiner({ evaluator });
  faultyScores = await startMiner({ evaluator: scoresFaulty });
  faultyRefresh = await startMiner({ evaluator: refreshFaulty });
  faultyLogits = await startMiner({ evaluator: logitsFaulty });
  userNode = await startClientNode();
  reference = await PlaintextReference.create(model);
});
after(async () => {
  await userNode.stop();
  for (const m of [honest, faultyScores, faultyRefresh, faultyLogits]) await m.stop();
  evaluator.dispose();
  await reference.release();
  rmSync(dir, { recursive: true, force: true });
});

test("transformer Brain: greedy words through three rounds a word equal the plaintext model's; every round checks out", async () => {
  const steps: GeneratedStep[] = [];
  const r = await generateSession({
    model, infer: new InferClient(userNode, { stepTimeoutMs: 60_000 }), miners: [honest.address], prompt: "the jury said that",
    words: 7, topK: 1, temperature: 1, seed: 3, onStep: (s) => steps.push(s),
  });
  assert.equal(r.words.length, 7);
  for (const [i, s] of steps.entries()) {
    assert.equal(s.rounds?.length, 3);
    const outcome = await reference.check(s, model.client.vocab.size, s.ms);
    assert.ok(isCorrect(outcome, scoringFor("transformer")), `word ${i}: ${JSON.stringify(outcome)}`);
    const p = softmax(s.logits, model.client.vocab.size);
    p[0] = 0;
    assert.equal(r.words[i]!.id, argmax(p, model.client.vocab.size));
  }
  // Prompt of 4 words + 7: positions 3 … 9 with a window of 8 — the cache restarted at position 8 (a second prefill).
  assert.ok(r.words.every((w) => w.bytesUp > 0 && w.bytesDown > 0));
});

for (const [name, miner, faulty] of [["scores (round 0)", () => faultyScores, () => scoresFaulty],
  ["refreshed FFN input (round 1)", () => faultyRefresh, () => refreshFaulty], ["logits (round 2)", () => faultyLogits, () => logitsFaulty]] as const) {
  test(`a miner that answers only the ${name} wrongly fails the validator's check of that round`, async () => {
    const outcomes = outcomesOf(await probeSession({
      model, reference, miners: [miner().address], prompt: "in the morning the",
      words: 3, workload: exactSessions(3),
      transport: { stepTimeoutMs: 60_000 }, seed: 5,
    }), miner().address.peerId);
    assert.equal(outcomes.length, 3);
    assert.ok(faulty().corrupted > 0);
    assert.ok(outcomes.filter((o) => o.answered).every((o) => !isCorrect(o, scoringFor("transformer"))), JSON.stringify(outcomes));
  });
}

test("a failure after round 0 restarts the word on the next miner with a prefill; the text completes", async () => {
  // A miner whose second round always fails (an error reply, as a crashing evaluator gives).
  const broken = await startMiner({ evaluator: {
    planId: evaluator.planId,
    openSession: async (keys) => {
      const s = await evaluator.openSession(keys);
      return { evaluate: async (inputs, o) => { if ((o?.round ?? 0) === 2) throw new CerberusError("EVAL_FAILED", "round 2 broke"); return s.evaluate(inputs, o); },
        close: () => s.close() };
    },
  } });
  try {
    const r = await generateSession({
      model, infer: new InferClient(userNode, { stepTimeoutMs: 60_000 }), miners: [broken.address, honest.address],
      selection: { choices: 2 }, random: () => 0, prompt: "the jury said", words: 3, topK: 1, temperature: 1, seed: 4,
    });
    assert.equal(r.words.length, 3);
    assert.ok(r.words.every((w) => w.miner === honest.address.peerId));
    assert.equal(r.sessionsOpened, r.failovers + 1);
  } finally {
    await broken.stop();
  }
});
