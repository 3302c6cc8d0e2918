import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { loadClientModel, minerForward, softmax, writeClientModel } from "../../../nodes/model/lm.ts";
import { initParams } from "../../../nodes/train/mlp.ts";
import { exportMinerOnnx, toMinerModel } from "../../../nodes/train/onnx-export.ts";
import { paddedVocab, parseMinerOnnx } from "../../../nodes/model/miner-model.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { quantize } from "../../../nodes/train/quantize.ts";

// A model of the real shape (n = 5, embed 32, hidden 128) with a small vocabulary so the test stays fast.
const shape = { vocab: 300, n: 5, embed: 32, hidden: 128 };

test("exported miner ONNX run by onnxruntime-node equals the TypeScript forward pass to 1e-4", async () => {
  const rng = createRng(11);
  const p = initParams(shape, rng);
  for (let i = 0; i < p.b2.length; i++) p.b2[i] = rng.next() - 0.5;
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.next() - 0.5;
  p.W1 = quantize(p.W1, 12);
  const m = toMinerModel(p, [0.05, 0.9, -0.12]);
  assert.equal(m.vPad, 4096);
  const bytes = exportMinerOnnx(m);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  assert.deepEqual(session.inputNames, ["x"]);
  assert.deepEqual(session.outputNames, ["logits"]);
  let maxDiff = 0;
  for (let t = 0; t < 20; t++) {
    const x = Float32Array.from({ length: 128 }, () => (rng.next() * 2 - 1) * 0.2);
    const out = await session.run({ x: new ort.Tensor("float32", x, [1, 128]) });
    assert.deepEqual(out.logits.dims, [1, 4096]);
    const onnxLogits = out.logits.data as Float32Array;
    const tsLogits = minerForward(m, x);
    for (let i = 0; i < 4096; i++) maxDiff = Math.max(maxDiff, Math.abs(onnxLogits[i] - tsLogits[i]));
    for (let i = shape.vocab; i < 4096; i++) assert.equal(onnxLogits[i], 0, "padded logits are exactly zero");
  }
  await session.release();
  assert.ok(maxDiff < 1e-4, `max |onnx − ts| = ${maxDiff}`);

  // Parsing the bytes gives back the same weights, coefficients and shapes.
  const back = parseMinerOnnx(bytes, shape.vocab);
  assert.deepEqual([back.input, back.hidden, back.vPad], [128, 128, 4096]);
  assert.deepEqual(back.W1, m.W1);
  assert.deepEqual(back.W2, m.W2);
  assert.deepEqual(Array.from(back.c), Array.from(Float32Array.from(m.c)));
  assert.throws(() => parseMinerOnnx(new Uint8Array([1, 2, 3, 4]), 10), { code: "MODEL_SHAPE" });
});

test("client model round trip: vocabulary, embedding lookup for a context, integrity check", () => {
  const dir = mkdtempSync(join(tmpdir(), "cerberus-client-"));
  try {
    const words = ["<unk>", "the", "jury", "said", ".", "It"];
    const C = Float32Array.from({ length: words.length * 32 }, (_, i) => i / 100);
    writeClientModel(join(dir, "m.client.json"), words, 5, 32, paddedVocab(words.length), C, false);
    const client = loadClientModel(join(dir, "m.client.json"));
    assert.equal(client.vPad, 4096);
    assert.deepEqual(client.encode("The jury said it."), [0, 2, 3, 0, 4]);
    const x = client.contextInput([1, 2, 3, 4, 5]);
    assert.equal(x.length, 128);
    assert.deepEqual(Array.from(x.subarray(0, 32)), Array.from(C.subarray(2 * 32, 3 * 32)), "oldest of the last 4 ids first");
    assert.deepEqual(Array.from(client.contextInput([3]).subarray(96)), Array.from(C.subarray(96, 128)));
    assert.throws(() => client.contextInput([99]), { code: "BAD_TOKEN_ID" });
    const p = softmax([1, 2, 3, 1000], 3);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12 && p.length === 3);
  } finally {
    rmSync(dir, { recursive: true });
  }
  assert.throws(() => loadClientModel("/nonexistent/x.client.json"), { code: "CLIENT_MODEL_INVALID" });
});
