import { test } from "node:test";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { createRng } from "../../../nodes/core/prng.ts";
import { buildTransformerGraph, fillTokenShift, graphTensors, initTransformer, modelWidth, tensor, tensorShapes, toFheForm, type TransformerForm } from "../../../nodes/train/transformer.ts";

// Finite differences of the transformer's ONNX training graph (the autodiff's output) in float64, run by onnxruntime-node.
const shape = { vocab: 11, embed: 2, shift: 2, ff: 6, window: 5 };
const B = 2, T = 4;

async function check(form: TransformerForm): Promise<void> {
  const rng = createRng(form === "float" ? 5 : 6);
  const float = initTransformer(shape, rng);
  const p = form === "float" ? float : toFheForm(float, 0.8, 1.3, [0.1, 0.5, 0.3]);
  const GRAPH_TENSORS = graphTensors(form);
  for (const k of GRAPH_TENSORS) { const v = tensor(p, k); for (let i = 0; i < v.length; i++) v[i] = v[i]! + (rng.next() - 0.5) * 0.6; } // off the init's symmetries
  const d = modelWidth(shape);
  const ids = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => rng.int(shape.vocab)));
  const X = new Float32Array(B * T * d);
  ids.forEach((row, b) => fillTokenShift(p, row, 0, T, 0, X, b * T * d));
  const y = BigInt64Array.from(ids.flatMap((row) => row.slice(1).map(BigInt)));
  const weight = Float64Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 0 : 1)); // one unscored position per row
  const count = weight.reduce((a, b) => a + b, 0);
  const session = await ort.InferenceSession.create(buildTransformerGraph(shape, { form, batch: B, seq: T, train: true, dtype: "float64" }));
  const shapes = tensorShapes(shape);
  const values: Record<string, Float64Array> = { X: Float64Array.from(X) };
  for (const k of GRAPH_TENSORS) values[k] = Float64Array.from(tensor(p, k));
  const run = async () => {
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor("float64", values.X!, [B, T, d]), y: new ort.Tensor("int64", y, [B * T]),
      weight: new ort.Tensor("float64", weight, [B * T]), invCount: new ort.Tensor("float64", Float64Array.of(1 / count), [1]),
    };
    for (const k of GRAPH_TENSORS) feeds[k] = new ort.Tensor("float64", values[k]!, shapes[k]);
    if (form === "fhe") { feeds.range = new ort.Tensor("float64", Float64Array.of(0.3), [1]); feeds.lambda = new ort.Tensor("float64", Float64Array.of(2), [1]); }
    return session.run(feeds);
  };
  const base = await run();
  let checked = 0;
  for (const name of ["X", ...GRAPH_TENSORS]) {
    const grad = base[`grad_${name}`]!.data as Float64Array;
    const v = values[name]!;
    for (let probe = 0; probe < 4; probe++) {
      const i = rng.int(v.length);
      const keep = v[i]!;
      const eps = 1e-5;
      v[i] = keep + eps;
      const up = ((await run()).loss!.data as Float64Array)[0]!;
      v[i] = keep - eps;
      const down = ((await run()).loss!.data as Float64Array)[0]!;
      v[i] = keep;
      const fd = (up - down) / (2 * eps);
      assert.ok(Math.abs(fd - grad[i]!) <= 1e-6 + 1e-5 * Math.abs(fd), `${form} ${name}[${i}]: finite difference ${fd} vs graph ${grad[i]}`);
      checked++;
    }
  }
  assert.equal(checked, 4 * (GRAPH_TENSORS.length + 1));
  await session.release();
}

test("transformer training graph: every gradient (tensors and token-shift input) matches finite differences, float form", () => check("float"));
test("transformer training graph: every gradient matches finite differences, FHE form (bilinear attention, folded norms, square activation, range penalty)", () => check("fhe"));

test("output dropout: a dropped position's output layer sees only the bias, a kept one (mask 1) is unchanged", async () => {
  const rng = createRng(9);
  const p = initTransformer(shape, rng);
  for (const k of graphTensors("float")) { const v = tensor(p, k); for (let i = 0; i < v.length; i++) v[i] = v[i]! + (rng.next() - 0.5) * 0.6; }
  const d = modelWidth(shape), shapes = tensorShapes(shape);
  const ids = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => rng.int(shape.vocab)));
  const X = new Float32Array(B * T * d);
  ids.forEach((row, b) => fillTokenShift(p, row, 0, T, 0, X, b * T * d));
  const y = BigInt64Array.from(ids.flatMap((row) => row.slice(1).map(BigInt)));
  const run = async (outputDropout: boolean, mask?: Float32Array) => {
    const session = await ort.InferenceSession.create(buildTransformerGraph(shape, { form: "float", batch: B, seq: T, train: true, outputDropout }));
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor("float32", X, [B, T, d]), y: new ort.Tensor("int64", y, [B * T]),
      weight: new ort.Tensor("float32", new Float32Array(B * T).fill(1), [B * T]), invCount: new ort.Tensor("float32", Float32Array.of(1 / (B * T)), [1]),
    };
    for (const k of graphTensors("float")) feeds[k] = new ort.Tensor("float32", tensor(p, k), shapes[k]);
    if (mask !== undefined) feeds.drop_out = new ort.Tensor("float32", mask, [B, T, d]);
    const r = Array.from((await session.run(feeds)).logp!.data as Float32Array);
    await session.release();
    return r;
  };
  const plain = await run(false);
  // Position 0 of each row dropped whole, the rest kept with the mask's value 1 (p = 0 for them).
  const mask = new Float32Array(B * T * d).fill(1);
  for (let b = 0; b < B; b++) mask.fill(0, b * T * d, b * T * d + d);
  const dropped = await run(true, mask);
  const bU = tensor(p, "bU");
  const logZ = Math.log(Array.from(bU).reduce((a, v) => a + Math.exp(v), 0));
  for (let i = 0; i < B * T; i++) {
    if (i % T === 0) assert.ok(Math.abs(dropped[i]! - (bU[Number(y[i])]! - logZ)) < 1e-5, `dropped position ${i}: ${dropped[i]} is not log softmax(bU)`);
    else assert.ok(Math.abs(dropped[i]! - plain[i]!) < 1e-5, `kept position ${i}: ${dropped[i]} vs ${plain[i]}`);
  }
});
