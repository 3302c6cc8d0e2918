import { test } from "node:test";
import assert from "node:assert/strict";
import { FheClient, MinerEvaluator, type PlanOptions } from "../../../nodes/fhe/index.ts";
import { encodeModel, randomMlp, type RandomMlpOptions } from "../../../nodes/fhe/random-model.ts";
import { compileOnnx } from "../../../nodes/fhe/compiler.ts";
import { argmax, ortSession, randomInput, relMaxError } from "./helpers.ts";

/** Real node-seal ciphertexts end to end: client keygen/encrypt → miner evaluate → client decrypt, vs onnxruntime. */
async function roundTrip(model: RandomMlpOptions, plan: PlanOptions, inputs: number) {
  const { bytes } = randomMlp(model);
  const ev = await MinerEvaluator.create(bytes, plan);
  const client = await FheClient.create(JSON.parse(JSON.stringify(ev.descriptor)));
  const session = await ev.openSession(client.keygen());
  const ref = await ortSession(bytes);
  let worst = 0;
  try {
    for (let k = 0; k < inputs; k++) {
      const x = randomInput(model.dims[0], 100 + k);
      const y = client.decryptOutput(await session.evaluate(client.encryptInput(x)));
      const r = await ref.run(x);
      assert.equal(y.length, r.length);
      worst = Math.max(worst, relMaxError(y, r));
    }
  } finally {
    session.close();
    ev.dispose();
    client.dispose();
    await ref.release();
  }
  return { worst, descriptor: ev.descriptor };
}

test("square, tall, wide and non-power-of-two MLPs agree with onnxruntime within 1e-3 of the output range", async () => {
  const cases: [string, number[]][] = [
    ["square", [32, 32, 32]],
    ["tall", [16, 64, 600]],
    ["wide", [256, 16, 8]],
    ["padded", [20, 50, 13]],
    ["tall, two output ciphertexts", [24, 24, 5000]],
  ];
  for (const [name, dims] of cases) {
    const { worst, descriptor } = await roundTrip({ dims, seed: dims[2] }, {}, 2);
    assert.ok(worst <= 1e-3, `${name} ${dims}: relative max error ${worst}`);
    assert.equal(descriptor.outputDim, dims[2]);
  }
});

test("every rotation-key mode (min, full, naive) computes the same function", async () => {
  for (const rotationKeys of ["min", "full", "naive"] as const) {
    const { worst } = await roundTrip({ dims: [16, 16, 10], seed: 4 }, { rotationKeys }, 1);
    assert.ok(worst <= 1e-3, `${rotationKeys}: ${worst}`);
  }
});

test("a squeezed (diagonal-pruned) model still matches its own onnxruntime output", async () => {
  const { worst, descriptor } = await roundTrip({ dims: [32, 32, 40], seed: 9, pruneRate: 0.5 }, { rotationKeys: "full" }, 1);
  assert.ok(descriptor.summary.diagonalsSkipped >= 32);
  assert.ok(worst <= 1e-3, `pruned: ${worst}`);
});

test("exact top-1 agreement with onnxruntime on 200 random inputs (one session)", async () => {
  // CKKS at scale 2^36 computes these logits to ≈ 1e-5 absolute (measured max 1.7e-5); a random input whose two
  // best plaintext logits are closer than MARGIN is a tie at the scheme's precision, so such draws are replaced by
  // the next random input (and counted: they must stay rare, or the test fails).
  const MARGIN = 1e-4;
  const { bytes } = randomMlp({ dims: [8, 16, 10], seed: 77 });
  const ev = await MinerEvaluator.create(bytes);
  const client = await FheClient.create(ev.descriptor);
  const session = await ev.openSession(client.keygen());
  const ref = await ortSession(bytes);
  let agree = 0;
  let ties = 0;
  let seed = 5000;
  for (let k = 0; k < 200; k++) {
    let x = randomInput(8, seed++);
    let r = await ref.run(x);
    while (topTwoGap(r) < MARGIN) {
      ties++;
      x = randomInput(8, seed++);
      r = await ref.run(x);
    }
    const y = client.decryptOutput(await session.evaluate(client.encryptInput(x)));
    if (argmax(y) === argmax(r)) agree++;
  }
  session.close();
  ev.dispose();
  client.dispose();
  await ref.release();
  assert.ok(ties <= 10, `${ties} near-ties among ${200 + ties} draws`);
  assert.equal(agree, 200);
});

function topTwoGap(v: Float32Array): number {
  const s = Array.from(v).sort((a, b) => b - a);
  return s[0] - s[1];
}

test("the Brown LM shape 128 → 128 → poly → 16,384 (4 output ciphertexts) within 1e-3", async () => {
  const { worst, descriptor } = await roundTrip({ dims: [128, 128, 16384], seed: 1, zeroRowsFrom: 15000 }, {}, 1);
  assert.equal(descriptor.outputBlocks, 4);
  assert.equal(descriptor.params, "n8192-l3");
  assert.ok(worst <= 1e-3, `LM shape: ${worst}`);
});

test("an output block whose diagonals are all zero (padding) still yields a correct ciphertext", async () => {
  const { worst, descriptor } = await roundTrip({ dims: [16, 16, 9000], seed: 8, zeroRowsFrom: 4000 }, {}, 1);
  assert.equal(descriptor.outputBlocks, 3);
  assert.ok(worst <= 1e-3, `zero block: ${worst}`);
});

test("polynomial as the output (affine stage) and squaring the raw input (explicit shift) run correctly", async () => {
  const f32 = (name: string, dims: number[], v: number[]) =>
    ({ name, dims, dataType: 1, rawData: new Uint8Array(Float32Array.from(v).buffer) });
  const W = Array.from({ length: 12 * 6 }, (_, i) => Math.sin(i * 1.3) * 0.4);
  const c2 = Array.from({ length: 6 }, (_, i) => 0.2 + i * 0.05); // per-element coefficients
  const polyOut = encodeModel([
    { opType: "MatMul", input: ["x", "W"], output: ["h"] },
    { opType: "Mul", input: ["h", "h"], output: ["hh"] },
    { opType: "Mul", input: ["hh", "c2"], output: ["a"] },
    { opType: "Mul", input: ["h", "c1"], output: ["b"] },
    { opType: "Add", input: ["a", "b"], output: ["s"] },
    { opType: "Add", input: ["s", "c0"], output: ["logits"] },
  ], [f32("W", [12, 6], W), f32("c2", [6], c2), f32("c1", [], [-0.3]), f32("c0", [], [0.1])], 12, 6);
  const inputPoly = encodeModel([
    { opType: "Add", input: ["x", "k"], output: ["xs"] },
    { opType: "Mul", input: ["xs", "xs"], output: ["sq"] },
    { opType: "MatMul", input: ["sq", "W"], output: ["logits"] },
  ], [f32("k", [], [0.5]), f32("W", [12, 6], W)], 12, 6);
  for (const [name, bytes, kinds] of [["poly output", polyOut, "linear,square,affine"],
    ["input squared", inputPoly, "square,linear"]] as const) {
    const ev = await MinerEvaluator.create(bytes);
    const client = await FheClient.create(ev.descriptor);
    const session = await ev.openSession(client.keygen());
    const ref = await ortSession(bytes);
    const x = randomInput(12, 9);
    const err = relMaxError(client.decryptOutput(await session.evaluate(client.encryptInput(x))), await ref.run(x));
    assert.ok(err <= 1e-3, `${name}: ${err}`);
    assert.equal(compileOnnx(bytes).stages.map((s) => s.kind).join(","), kinds);
    session.close();
    ev.dispose();
    client.dispose();
    await ref.release();
  }
});
