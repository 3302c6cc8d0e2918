import "../../../nodes/core/polyfills.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadBrainModel } from "../../../nodes/client/brain-model.ts";
import { generateSession, wordDistribution, type GeneratedStep } from "../../../nodes/client/generate.ts";
import { exactSessions } from "../../../nodes/client/workload.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { argmax, softmax } from "../../../nodes/model/client-model.ts";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { KneserNeyTrigram } from "../../../nodes/model/kn.ts";
import { idStreamSha256, LmMixture, MIXTURE_FORMAT } from "../../../nodes/model/mixture.ts";
import type { CerberusNode } from "../../../nodes/net/node.ts";
import { outcomesOf, probeSession, PlaintextReference } from "../../../nodes/validator/challenge.ts";
import { isCorrect, scoringFor } from "../../../nodes/validator/scoring.ts";
import { startClientNode, type TestMiner } from "../net/fixtures/harness.ts";
import { startTinyLmMiner, type TinyLmMiner } from "./fixtures.ts";

// The real generate path (real node-seal ciphertexts, real libp2p to a real miner) samples from the client mixture:
// with top-k 1 every word must be the argmax of the mixture recomputed from the step's decrypted logits, and the
// mixture must change at least one choice of the MLP alone (else the test could not tell them apart).
let fixture: TinyLmMiner;
let dir: string;
let miner: TestMiner;
let userNode: CerberusNode;

before(async () => {
  fixture = await startTinyLmMiner("cerberus-mixture-");
  ({ dir, miner } = fixture);
  userNode = await startClientNode();
});
after(async () => {
  await userNode.stop();
  await fixture.stop();
});

/** A mixture for the tiny LM's vocabulary, from the first 20,000 corpus words (the real one is fitted by train). */
function tinyMixture(model: ReturnType<typeof loadBrainModel>): LmMixture {
  const V = model.client.vocab.size;
  const { vocab, train } = loadBrownSplits({ maxWords: 20_000 });
  const ids = train.map((id) => model.client.vocab.idOf(vocab.words[id]!));
  const kn = KneserNeyTrigram.fromTrain(ids, V);
  return new LmMixture(kn, {
    format: MIXTURE_FORMAT, vocabSize: V,
    kn: { discounts: { trigram: [...kn.discounts.trigram], bigram: [...kn.discounts.bigram], unigram: [...kn.discounts.unigram] }, train: { words: ids.length, sha256: idStreamSha256(ids) } },
    cache: { size: 50 }, buckets: [0, 3], historyBuckets: [0], weights: [[[0.3, 0.5, 0.2]], [[0.2, 0.7, 0.1]]],
  });
}

test("generate samples from the client mixture, not the MLP alone", async () => {
  const model = loadBrainModel({ dir, name: "tiny-lm" });
  const V = model.client.vocab.size;
  const mixture = tinyMixture(model);
  const prompt = "the jury said";
  const steps: GeneratedStep[] = [];
  const result = await generateSession({
    model, infer: new InferClient(userNode, { stepTimeoutMs: 60_000 }), miners: [miner.address], prompt, words: 6,
    topK: 1, temperature: 1, seed: 1, mixture, onStep: (s) => steps.push(s),
  });
  const context = model.client.encode(prompt);
  let differs = 0;
  for (const [i, w] of result.words.entries()) {
    const mixed = wordDistribution(steps[i]!.logits, V, context, 1, mixture);
    mixed[0] = 0; // generate never emits <unk>
    assert.equal(w.id, argmax(mixed, V), `word ${i}`);
    const alone = softmax(steps[i]!.logits, V);
    alone[0] = 0;
    if (argmax(alone, V) !== w.id) differs++;
    context.push(w.id);
  }
  assert.ok(differs > 0, "the mixture changed at least one greedy choice");
});

test("a validator's probe with the mixture samples exactly as a user's client does (and differently without it)", async () => {
  const model = loadBrainModel({ dir, name: "tiny-lm" });
  const mixture = tinyMixture(model);
  const reference = await PlaintextReference.create(model);
  try {
    const shape = { words: 6, workload: exactSessions(6) };
    const inputsOf = (steps: GeneratedStep[]) => steps.map((s) => Array.from(s.input));
    const user: GeneratedStep[] = [];
    await generateSession({ model, infer: new InferClient(userNode, { stepTimeoutMs: 60_000 }), miners: [miner.address],
      prompt: "the jury said", words: shape.words, seed: 11, mixture, onStep: (s) => user.push(s) });
    const probe = async (withMixture: boolean) => {
      const steps: GeneratedStep[] = [];
      const outcomes = outcomesOf(await probeSession({ model, reference, miners: [miner.address], prompt: "the jury said", ...shape, seed: 11,
        ...(withMixture ? { mixture } : {}), onStep: (s) => steps.push(s) }), miner.address.peerId);
      assert.ok(outcomes.every((o) => isCorrect(o, scoringFor(model.kind))), "the honest miner passes");
      return inputsOf(steps);
    };
    // The inputs encode the words sampled so far: same seed, same mixture → the same contexts, step for step.
    assert.deepEqual(await probe(true), inputsOf(user));
    assert.notDeepEqual(await probe(false), inputsOf(user), "without the mixture the probe would sample other words");
  } finally {
    await reference.release();
  }
});
