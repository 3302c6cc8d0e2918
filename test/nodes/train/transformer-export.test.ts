import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { createRng } from "../../../nodes/core/prng.ts";
import { parseTransformerClient } from "../../../nodes/model/transformer-client.ts";
import { TransformerEngine } from "../../../nodes/train/transformer-engine.ts";
import { exportTransformerOnnx, writeTransformerClient } from "../../../nodes/train/transformer-export.ts";
import { fillTokenShift, initTransformer, modelWidth, tensor, toFheForm } from "../../../nodes/train/transformer.ts";

// The exported miner ONNX + the client's part compute exactly what the FHE-form training graph scores.
test("exported transformer (client rows, miner ONNX, client softmax) = the FHE-form training graph, position by position", async () => {
  const shape = { vocab: 37, embed: 4, shift: 3, ff: 16, window: 8 };
  const rng = createRng(11);
  const p = toFheForm(initTransformer(shape, rng), 0.9, 1.1, [0.05, 0.6, 0.2]);
  for (const k of ["rel", "bo", "b1", "b2", "bU", "g0", "b0"] as const) { const v = tensor(p, k); for (let i = 0; i < v.length; i++) v[i] = v[i]! + (rng.next() - 0.5) * 0.5; }
  const d = modelWidth(shape), T = shape.window, vPad = 64;
  const ids = Int32Array.from({ length: T + 1 }, () => rng.int(shape.vocab));
  // Training graph: one sequence of T positions (history starts at 0: the client pads with id 0 before it).
  const eng = await TransformerEngine.create(shape, "fhe", { batch: 1, seq: T, train: false });
  const X = new Float32Array(T * d);
  fillTokenShift(p, ids, 0, T, 0, X, 0);
  const { logp } = await eng.evaluate(p, { X, y: BigInt64Array.from(Array.from(ids.subarray(1), BigInt)), weight: new Float32Array(T).fill(1) });
  await eng.release();

  const dir = mkdtempSync(join(tmpdir(), "cerberus-tx-export-"));
  try {
    const words = Array.from({ length: shape.vocab }, (_, i) => (i === 0 ? "<unk>" : `w${i}`));
    writeTransformerClient(join(dir, "t.client.json"), words, p, vPad, false);
    const client = parseTransformerClient(readFileSync(join(dir, "t.client.json")), new Uint8Array(readFileSync(join(dir, "t.client.bin"))));
    const session = await ort.InferenceSession.create(exportTransformerOnnx(p, vPad));
    const history = Array.from(ids);
    for (let k = 0; k < T; k++) {
      const ws = client.windowStart(k);
      const x = new Float32Array(T * d);
      for (let j = ws; j <= k; j++) x.set(client.row(history, j), (j - ws) * d);
      const out = await session.run({ x: new ort.Tensor("float32", x, [T, d]), xq: new ort.Tensor("float32", client.row(history, k), [1, d]),
        sbias: new ort.Tensor("float32", client.scoreBias(k, ws), [1, T]) });
      const logits = out.logits!.data as Float32Array;
      let max = -Infinity;
      for (let w = 0; w < shape.vocab; w++) max = Math.max(max, logits[w]!);
      let zsum = 0;
      for (let w = 0; w < shape.vocab; w++) zsum += Math.exp(logits[w]! - max);
      const lp = logits[ids[k + 1]!]! - max - Math.log(zsum);
      assert.ok(Math.abs(lp - logp[k]!) < 2e-4, `position ${k}: exported ${lp} vs training graph ${logp[k]}`);
      for (let w = shape.vocab; w < vPad; w++) assert.equal(logits[w], 0, "padded logits are zero");
      // The first round's output is the raw scores: the client's softmax of them gives the reference's own weights.
      const scores = out.scores!.data as Float32Array;
      assert.equal(client.attention(scores, k, ws).length, k - ws + 1);
    }
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
