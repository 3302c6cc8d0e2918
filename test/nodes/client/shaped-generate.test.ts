import "../../../nodes/core/polyfills.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { loadBrainModel } from "../../../nodes/client/brain-model.ts";
import { generate, generateSession, type GeneratedStep } from "../../../nodes/client/generate.ts";
import { InferClient } from "../../../nodes/client/transport.ts";
import { COMPRESSED_WORKLOAD } from "../../../nodes/client/workload.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { createCerberusNode, type CerberusNode } from "../../../nodes/net/node.ts";
import { PlaintextReference, probeSession } from "../../../nodes/validator/challenge.ts";
import type { TestMiner } from "../net/fixtures/harness.ts";
import { startTinyLmMiner, type TinyLmMiner } from "./fixtures.ts";

// The shipped clients' request path, through a real miner over real libp2p with real ciphertexts: a request is
// split into sessions of the workload model's lengths, each from a fresh identity with fresh keys, the text carried
// across them, the padding run and discarded. What the miner sees of a request is only sessions.
let fixture: TinyLmMiner;
let dir: string;
let miner: TestMiner;

before(async () => {
  fixture = await startTinyLmMiner("cerberus-shaped-");
  ({ dir, miner } = fixture);
});
after(async () => {
  await fixture.stop();
});

test("a request becomes sessions of the model's lengths on fresh identities; the text is the unshaped one, padding discarded", async () => {
  const model = loadBrainModel({ dir, name: "tiny-lm" });
  const words = 7;
  const sessions: { index: number; steps: number; padding: number }[] = [];
  const steps: GeneratedStep[] = [];
  const nodes: CerberusNode[] = [];
  const shown: number[] = [];
  const before = miner.events.length;
  const r = await generate({
    model, miners: [miner.address], prompt: "the jury said", words, seed: 3, topK: 1, workload: COMPRESSED_WORKLOAD,
    random: createRng(4).next, transport: { stepTimeoutMs: 60_000 },
    newNode: async () => { const n = await createCerberusNode({ listen: [] }); nodes.push(n); return n; },
    onSession: (s) => sessions.push(s), onStep: (s) => steps.push(s), onWord: (w) => shown.push(w.index),
  });
  // The shaping drawn with this seed (asserted, so the test covers a split and padding rather than one session).
  assert.ok(r.sessions >= 2, `${r.sessions} session(s)`);
  assert.ok(r.paddingWords > 0, "the last session is padded");
  assert.deepEqual(sessions.map((s) => s.index), [...Array(r.sessions).keys()]);
  assert.equal(sessions.reduce((a, s) => a + s.steps, 0), words + r.paddingWords);
  assert.equal(sessions.at(-1)!.padding, r.paddingWords);
  assert.ok(sessions.every((s) => s.steps <= COMPRESSED_WORKLOAD.session.maxWords));
  // The user sees exactly what was asked, in order; every step ran on the miner, padding included.
  assert.deepEqual(shown, [...Array(words).keys()]);
  assert.equal(r.words.length, words);
  assert.equal(steps.length, words + r.paddingWords);
  assert.deepEqual(steps.map((s) => s.session), sessions.flatMap((s) => new Array<number>(s.steps).fill(s.index)));

  // The miner's view: one key upload per session, each from its own peer id, none reused; the nodes are stopped.
  const seen = miner.events.slice(before).filter((e) => e.protocol.includes("infer") && e.header?.type === "open");
  assert.equal(seen.length, r.sessions);
  assert.equal(new Set(seen.map((e) => e.peerId)).size, r.sessions);
  assert.deepEqual(seen.map((e) => e.peerId), nodes.map((n) => n.peerId.toString()));
  assert.ok(nodes.every((n) => n.status === "stopped"));

  // Continuity: the same seed through one unshaped session gives the same words (greedy, same contexts).
  const one = await createCerberusNode({ listen: [] });
  try {
    const plain = await generateSession({ model, infer: new InferClient(one, { stepTimeoutMs: 60_000 }), miners: [miner.address],
      prompt: "the jury said", words, seed: 3, topK: 1 });
    assert.deepEqual(r.words.map((w) => w.id), plain.words.map((w) => w.id));
  } finally {
    await one.stop();
  }
});

test("a stopping validator's probe request ends at once: no further session, nothing checked against the reference", async () => {
  // A validator frees its plaintext reference when it stops; a shaped probe request runs several sessions, so it must
  // not outlive the stop (it once kept going into the freed ONNX session).
  const model = loadBrainModel({ dir, name: "tiny-lm" });
  const reference = await PlaintextReference.create(model);
  try {
    const stop = new AbortController();
    const before = miner.events.length;
    let steps = 0;
    const t0 = performance.now();
    const r = await probeSession({
      model, reference, miners: [miner.address], prompt: "the jury said", words: 40, workload: COMPRESSED_WORKLOAD,
      random: createRng(4).next, transport: { stepTimeoutMs: 60_000 }, signal: stop.signal,
      onStep: () => { steps += 1; stop.abort(); },
    });
    const opens = miner.events.slice(before).filter((e) => e.protocol.includes("infer") && e.header?.type === "open");
    assert.equal(steps, 1, "the step after the stop is not sent");
    assert.equal(opens.length, 1, "no session after the stop (40 words take several)");
    assert.equal(r.byMiner.size, 0, "nothing is scored from a probe cut short by the stop");
    assert.ok(performance.now() - t0 < 30_000);
  } finally {
    await reference.release();
  }
});
