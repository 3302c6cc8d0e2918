import { test } from "node:test";
import assert from "node:assert/strict";
import onnxProto from "onnx-proto";
import { compileOnnx, graphLevels, type StageGraph } from "../../../nodes/fhe/compiler.ts";
import { compilePlan, laneVector, PlanDescriptorSchema } from "../../../nodes/fhe/plan.ts";
import { diagonal, linearLayout, pruneDiagonals, rotateLeft } from "../../../nodes/fhe/diagonals.ts";
import { encodeModel, randomMlp } from "../../../nodes/fhe/random-model.ts";
import { InvalidModelError, LevelBudgetError, ParamsMismatchError, UnsupportedOpError } from "../../../nodes/fhe/errors.ts";
import { selectParamSet } from "../../../nodes/fhe/params.ts";
import { ortSession, randomInput, relMaxError } from "./helpers.ts";

const { onnx } = onnxProto;

/** Plaintext interpretation of the compiled stages (float64), to check the folding against onnxruntime. */
function runStages(g: StageGraph, x: Float32Array): Float32Array {
  let v = Float64Array.from(x);
  for (const s of g.stages) {
    if (s.kind === "linear") {
      const y = new Float64Array(s.outDim);
      for (let o = 0; o < s.outDim; o++) {
        let acc = s.bias[o];
        for (let i = 0; i < s.inDim; i++) acc += s.M[o * s.inDim + i] * v[i];
        y[o] = acc;
      }
      v = y;
    } else if (s.kind === "square") {
      v = v.map((a, i) => (a + (s.shift ? s.shift[i] : 0)) ** 2);
    } else {
      v = v.map((a, i) => a * (s.scale ? s.scale[i] : 1) + (s.shift ? s.shift[i] : 0));
    }
  }
  return Float32Array.from(v);
}

test("the degree-2 polynomial folds into one square per hidden layer and matches onnxruntime", async () => {
  for (const dims of [[12, 20, 7], [8, 16, 16, 5]]) {
    const { bytes } = randomMlp({ dims, seed: 11, poly: { c0: 0.3, c1: -0.7, c2: 0.4 } });
    const g = compileOnnx(bytes);
    const kinds = g.stages.map((s) => s.kind).join(",");
    assert.equal(kinds, dims.length === 3 ? "linear,square,linear" : "linear,square,linear,square,linear");
    assert.equal(graphLevels(g), 2 * (dims.length - 1) - 1);
    const ref = await ortSession(bytes);
    for (let k = 0; k < 5; k++) {
      const x = randomInput(dims[0], k);
      assert.ok(relMaxError(runStages(g, x), await ref.run(x)) < 1e-5);
    }
    await ref.release();
  }
});

test("Gemm with transB/alpha/beta, Sub, Identity and Reshape compile to the same function", async () => {
  const W = Float32Array.from({ length: 6 * 4 }, (_, i) => Math.sin(i)); // stored out × in (transB = 1)
  const C = Float32Array.from({ length: 6 }, (_, i) => i / 10);
  const t = (name: string, dims: number[], d: Float32Array | BigInt64Array, type = onnx.TensorProto.DataType.FLOAT) =>
    ({ name, dims, dataType: type, rawData: new Uint8Array(d.buffer.slice(0)) });
  const bytes = encodeModel([
    { opType: "Identity", input: ["x"], output: ["xi"] },
    { opType: "Gemm", input: ["xi", "W", "C"], output: ["g"], attribute: [
      { name: "transB", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      { name: "alpha", type: onnx.AttributeProto.AttributeType.FLOAT, f: 0.5 },
      { name: "beta", type: onnx.AttributeProto.AttributeType.FLOAT, f: 2 }] },
    { opType: "Sub", input: ["k", "g"], output: ["s"] },
    { opType: "Reshape", input: ["s", "shape"], output: ["logits"] },
  ], [t("W", [6, 4], W), t("C", [6], C), t("k", [], Float32Array.of(1.5)),
    t("shape", [2], BigInt64Array.of(1n, -1n), onnx.TensorProto.DataType.INT64)], 4, 6);
  const g = compileOnnx(bytes);
  assert.deepEqual(g.stages.map((s) => s.kind), ["linear"]);
  const ref = await ortSession(bytes);
  const x = randomInput(4, 3);
  assert.ok(relMaxError(runStages(g, x), await ref.run(x)) < 1e-6);
  await ref.release();
});

test("an unsupported op is a typed error naming the op", () => {
  const W = new Float32Array(16).fill(0.1);
  const bytes = encodeModel([
    { opType: "MatMul", input: ["x", "W"], output: ["h"] },
    { opType: "Relu", input: ["h"], output: ["logits"], name: "act" },
  ], [{ name: "W", dims: [4, 4], dataType: 1, rawData: new Uint8Array(W.buffer) }], 4, 4);
  assert.throws(() => compileOnnx(bytes), (e: unknown) =>
    e instanceof UnsupportedOpError && e.op === "Relu" && e.code === "FHE_UNSUPPORTED_OP" && /Relu/.test(e.message));
  assert.throws(() => compileOnnx(new Uint8Array([1, 2, 3, 4, 5])), InvalidModelError);
});

test("level budget: the LM shape selects n8192-l3; deeper plans pick the smallest set that fits (n8192-l5, n16384-l9) or fail typed", () => {
  assert.equal(compilePlan(randomMlp({ dims: [8, 8, 8] }).bytes).descriptor.params, "n8192-l3");
  const deep = randomMlp({ dims: [8, 8, 8, 8] }).bytes; // 5 levels
  assert.equal(compilePlan(deep).descriptor.params, "n8192-l5");
  assert.equal(compilePlan(randomMlp({ dims: [8, 8, 8, 8, 8] }).bytes).descriptor.params, "n16384-l9"); // 7 levels
  assert.throws(() => compilePlan(deep, { params: "n8192-l3" }), (e: unknown) =>
    e instanceof LevelBudgetError && e.needed === 5);
  const tooDeep = randomMlp({ dims: [8, 8, 8, 8, 8, 8, 8] }).bytes; // 11 levels
  assert.throws(() => compilePlan(tooDeep), LevelBudgetError);
  assert.throws(() => selectParamSet(1, "n2048-toy"), ParamsMismatchError);
});

test("generalized diagonals: BSGS pre-rotation and the product Σ diag ⊙ rot(x, d) equal M·x", () => {
  for (const [inD, outD] of [[5, 3], [16, 40], [64, 8]]) {
    const S = 128;
    const l = linearLayout(inD, outD, S);
    const M = Float64Array.from({ length: inD * outD }, (_, i) => Math.cos(i));
    const x = Float64Array.from({ length: inD }, (_, i) => i - 2);
    const xr = Float64Array.from({ length: S }, (_, i) => (i % l.p < inD ? x[i % l.p] : 0));
    const y = new Float64Array(S);
    for (let d = 0; d < l.p; d++) {
      const dg = diagonal(M, l, 0, d);
      for (let i = 0; i < S; i++) y[i] += dg[i] * xr[(i + d) % S];
    }
    for (let o = 0; o < outD; o++) {
      let ref = 0;
      for (let i = 0; i < inD; i++) ref += M[o * inD + i] * x[i];
      assert.ok(Math.abs(y[o] - ref) < 1e-9, `row ${o} of ${inD}→${outD}`);
    }
  }
});

test("lane packing: the client's lanes, Σ_g rot(P_g ⊙ z, g·B) and rotate-and-add by p … S/2 equal M·x, replicated", () => {
  // [in, hidden, out]: the first stage is lane-packed when its output period fits its input period, else classic.
  // [16, 16, 600] (the tiny test LM's shape) would need 8 rotate-and-adds to save 6 rotations: classic.
  for (const [dims, laned] of [[[64, 64, 9000], true], [[128, 100, 40], true], [[20, 5, 7], true], [[16, 64, 64], false], [[16, 16, 600], false]] as const) {
    const { bytes } = randomMlp({ dims: [...dims], seed: 9, pruneRate: 0.25 });
    const plan = compilePlan(bytes);
    const first = plan.schedule[0]!;
    assert.equal(first.kind === "lanes", laned, `${dims.join("→")}`);
    if (first.kind !== "lanes") { assert.equal(plan.descriptor.inputLanes, 0); continue; }
    const S = first.layout.slots;
    const { p, outP } = first.layout;
    assert.equal(plan.descriptor.inputLanes, S / (2 * p));
    const x = Float64Array.from({ length: dims[0] }, (_, i) => Math.sin(i + 1));
    const z = laneVector(x, dims[0], p, plan.descriptor.inputLanes, S);
    let acc = new Float64Array(S);
    for (const { g, diag } of first.giants) {
      const prod = rotateLeft(Float64Array.from(diag, (d, i) => d * z[i]!), g * first.B);
      acc = acc.map((a, i) => a + prod[i]!);
    }
    for (const step of first.sumSteps) {
      const r = rotateLeft(acc, step);
      acc = acc.map((a, i) => a + r[i]!);
    }
    const M = compileOnnx(bytes).stages[0] as { M: Float64Array; inDim: number; outDim: number };
    for (let u = 0; u < S; u++) {
      const row = u % outP;
      let ref = 0;
      if (row < M.outDim) for (let i = 0; i < M.inDim; i++) ref += M.M[row * M.inDim + i]! * x[i]!;
      assert.ok(Math.abs(acc[u]! - ref) < 1e-9, `${dims.join("→")} slot ${u}: ${acc[u]} vs ${ref}`);
    }
  }
});

test("squeeze-rate pruning zeroes exactly that fraction of diagonals and the plan skips them", () => {
  for (const rate of [0.25, 0.5, 0.75]) {
    const { bytes } = randomMlp({ dims: [32, 32, 64], seed: 5, pruneRate: rate });
    const d = compilePlan(bytes, { rotationKeys: "full" }).descriptor;
    assert.equal(d.summary.diagonalsTotal, 64);
    assert.equal(d.summary.diagonalsSkipped, Math.floor(rate * 32) * 2);
    assert.equal(d.summary.ptMults, 64 - Math.floor(rate * 32) * 2);
  }
  const W = Float32Array.from({ length: 8 * 8 }, (_, i) => i + 1);
  pruneDiagonals(W, 8, 8, 16, 0.5);
  assert.equal(W.filter((v) => v === 0).length, 32);
});

test("plan descriptors are JSON-safe and schema-checked; rotation keys follow the mode", () => {
  const { bytes } = randomMlp({ dims: [128, 128, 16384], seed: 2 });
  const min = compilePlan(bytes).descriptor;
  // The first stage reads a lane-packed input: 7 Horner giant steps by 16 + 5 rotate-and-adds (128 … 2048), and one
  // multiply per giant step; the second stage is the usual BSGS (15 babies, 7 giants per block, 128 diagonals each).
  assert.equal(min.inputLanes, 16);
  assert.deepEqual(min.galoisSteps, [1, 16, 128, 256, 512, 1024, 2048]);
  assert.equal(min.summary.rotations, 7 + 5 + 15 + 4 * 7);
  assert.equal(min.summary.ptMults, 8 + 4 * 128);
  assert.equal(min.summary.diagonalsSkipped, 0);
  assert.equal(min.outputBlocks, 4);
  const full = compilePlan(bytes, { rotationKeys: "full" }).descriptor;
  assert.equal(full.galoisSteps.length, 15 + 7);
  assert.equal(full.inputLanes, 0, "only \"min\" packs the input in lanes");
  assert.notEqual(full.planId, min.planId);
  const naive = compilePlan(bytes, { rotationKeys: "naive" }).descriptor;
  assert.equal(naive.galoisPow2, true);
  assert.equal(naive.summary.rotations, 127 * 2);
  assert.ok(PlanDescriptorSchema.safeParse(JSON.parse(JSON.stringify(min))).success);
  assert.ok(!PlanDescriptorSchema.safeParse({ ...min, params: "n1024" }).success);
});
