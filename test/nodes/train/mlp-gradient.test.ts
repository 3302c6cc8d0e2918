import { test } from "node:test";
import assert from "node:assert/strict";
import { MlpEngine } from "../../../nodes/train/engine.ts";
import { initParams, inputSize, type Activation, type MlpParams } from "../../../nodes/train/mlp.ts";
import { createRng } from "../../../nodes/core/prng.ts";

// Finite-difference check of the ONNX training graph (run by onnxruntime-node) against a float64 TS loss.
const shape = { vocab: 13, n: 3, embed: 4, hidden: 6 };
const I = inputSize(shape), H = shape.hidden, V = shape.vocab, B = 5;
const R = 0.5, LAMBDA = 0.3, ALPHA = 0.4;

type P64 = { W1: Float64Array; b1: Float64Array; W2: Float64Array; b2: Float64Array; x: Float64Array; c: Float64Array };

function loss(q: P64, act: "tanh" | "poly", y: number[], teacher?: { x: Float64Array; p: MlpParams }): number {
  const logits = (x: Float64Array, W1: ArrayLike<number>, b1: ArrayLike<number>, W2: ArrayLike<number>, b2: ArrayLike<number>, a: "tanh" | "poly", row: number) => {
    const hs: number[] = [];
    const av: number[] = [];
    for (let j = 0; j < H; j++) {
      let h = b1[j];
      for (let k = 0; k < I; k++) h += x[row * I + k] * W1[k * H + j];
      hs.push(h);
      av.push(a === "tanh" ? Math.tanh(h) : q.c[0] + q.c[1] * h + q.c[2] * h * h);
    }
    const s: number[] = [];
    for (let o = 0; o < V; o++) { let v = b2[o]; for (let j = 0; j < H; j++) v += av[j] * W2[j * V + o]; s.push(v); }
    const m = Math.max(...s);
    const lz = m + Math.log(s.reduce((acc, v) => acc + Math.exp(v - m), 0));
    return { logp: s.map((v) => v - lz), hs };
  };
  let L = 0;
  for (let b = 0; b < B; b++) {
    const { logp, hs } = logits(q.x, q.W1, q.b1, q.W2, q.b2, act, b);
    if (teacher) {
      const t = logits(teacher.x, teacher.p.W1, teacher.p.b1, teacher.p.W2, teacher.p.b2, "tanh", b).logp;
      L -= (1 - ALPHA) * logp[y[b]];
      for (let o = 0; o < V; o++) L -= ALPHA * Math.exp(t[o]) * logp[o];
    } else L -= logp[y[b]];
    for (const h of hs) L += LAMBDA * Math.max(0, Math.abs(h) - R) ** 2;
  }
  return L / B;
}

async function check(act: Activation, distill: boolean): Promise<void> {
  const rng = createRng(7);
  const p = initParams(shape, rng);
  for (const w of [p.W1, p.W2]) for (let i = 0; i < w.length; i++) w[i] *= 3; // push h beyond R and into tanh's curve
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.next() - 0.5;
  const teacherP = initParams(shape, createRng(8));
  const x = Float32Array.from({ length: B * I }, () => rng.next() * 2 - 1);
  const xt = Float32Array.from({ length: B * I }, () => rng.next() * 2 - 1);
  const yIds = Array.from({ length: B }, () => rng.int(V));
  const engine = await MlpEngine.create(p, act.kind, distill);
  const g = await engine.step(p, act, x, BigInt64Array.from(yIds.map(BigInt)), {
    range: R, lambda: LAMBDA, teacher: distill ? { params: teacherP, x: xt, alpha: ALPHA } : undefined,
  });
  await engine.release();
  const q: P64 = {
    W1: Float64Array.from(p.W1), b1: Float64Array.from(p.b1), W2: Float64Array.from(p.W2), b2: Float64Array.from(p.b2),
    x: Float64Array.from(x), c: Float64Array.from(act.kind === "poly" ? act.c : [0, 0, 0]),
  };
  const teacher = distill ? { x: Float64Array.from(xt), p: teacherP } : undefined;
  const cases: [keyof P64, ArrayLike<number>][] = [["W1", g.dW1], ["b1", g.db1], ["W2", g.dW2], ["b2", g.db2], ["x", g.dx]];
  if (act.kind === "poly") cases.push(["c", g.dc!]);
  const eps = 1e-5;
  for (const [name, analytic] of cases) {
    const arr = q[name];
    let maxErr = 0, maxG = 0;
    for (let i = 0; i < arr.length; i++) {
      const orig = arr[i];
      arr[i] = orig + eps; const lp = loss(q, act.kind, yIds, teacher);
      arr[i] = orig - eps; const lm = loss(q, act.kind, yIds, teacher);
      arr[i] = orig;
      const num = (lp - lm) / (2 * eps);
      maxErr = Math.max(maxErr, Math.abs(num - analytic[i]));
      maxG = Math.max(maxG, Math.abs(num));
    }
    assert.ok(maxG > 1e-3, `${name}: gradient is not trivially zero`);
    assert.ok(maxErr / maxG < 2e-3, `${name}: max |numeric − onnx| = ${maxErr} (max |g| ${maxG})`);
  }
}

test("ONNX training step gradients match finite differences (tanh, data loss, range penalty)", async () => {
  await check({ kind: "tanh" }, false);
});

test("ONNX training step gradients match finite differences (poly, distillation, range penalty, coefficients)", async () => {
  await check({ kind: "poly", c: [0.1, 0.6, 0.2] }, true);
});
