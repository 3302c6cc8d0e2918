import assert from "node:assert/strict";
import { test } from "node:test";
import { diagonalMask } from "../../../nodes/train/diagonals.ts";
import { minerForward } from "../../../nodes/model/lm.ts";
import { fillContext, initParams, type MlpParams } from "../../../nodes/train/mlp.ts";
import { toMinerModel } from "../../../nodes/train/onnx-export.ts";
import { createRng } from "../../../nodes/core/prng.ts";
import { applyRelabeling, assignMinCost, inverse, planRelabeling, relabelIds } from "../../../nodes/train/relabel.ts";

const shape = { vocab: 700, n: 5, embed: 32, hidden: 128 };

/** A random model with structure to find: each word leans on a few hidden units, each unit on a few inputs. */
function structuredModel(seed: number): MlpParams {
  const rng = createRng(seed);
  const p = initParams(shape, rng);
  for (let k = 0; k < 128; k++) for (let h = 0; h < 128; h++) if (rng.next() < 0.1) p.W1[k * 128 + h] *= 6;
  for (let h = 0; h < 128; h++) for (let w = 0; w < shape.vocab; w++) if (rng.next() < 0.1) p.W2[h * shape.vocab + w] *= 6;
  for (let i = 0; i < p.b1.length; i++) p.b1[i] = rng.next() - 0.5;
  for (let i = 0; i < p.b2.length; i++) p.b2[i] = rng.next() - 0.5;
  return p;
}

function keptEnergy(W: Float32Array, inDim: number, outDim: number, rate: number): number {
  const mask = diagonalMask(W, inDim, outDim, rate);
  let kept = 0, total = 0;
  for (let i = 0; i < W.length; i++) { total += W[i] ** 2; if (mask[i]) kept += W[i] ** 2; }
  return kept / total;
}

test("assignMinCost finds the optimal assignment (brute force on 6×6)", () => {
  const rng = createRng(7);
  const n = 6;
  for (let trial = 0; trial < 5; trial++) {
    const cost = Float64Array.from({ length: n * n }, () => rng.next() * 10 - 5);
    const got = assignMinCost(cost, n);
    assert.deepEqual([...got].sort(), [0, 1, 2, 3, 4, 5]);
    const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, c, r) => s + cost[r * n + c], 0);
    let best = Infinity;
    const perm = (pre: number[], rest: number[]): void => {
      if (rest.length === 0) { best = Math.min(best, sum(pre)); return; }
      for (const c of rest) perm([...pre, c], rest.filter((x) => x !== c));
    };
    perm([], [0, 1, 2, 3, 4, 5]);
    assert.ok(Math.abs(sum(got) - best) < 1e-9, `assignment cost ${sum(got)} vs optimum ${best}`);
  }
});

test("relabeling is a renaming: same logits for the renamed words, <unk> stays 0", () => {
  const p = structuredModel(11);
  const r = planRelabeling(p, 0.25);
  assert.equal(r.vocab[0], 0);
  assert.deepEqual([...r.vocab].sort((a, b) => a - b), Array.from({ length: shape.vocab }, (_, i) => i));
  assert.deepEqual([...r.hidden].sort((a, b) => a - b), Array.from({ length: 128 }, (_, i) => i));
  assert.deepEqual(Array.from(inverse(inverse(r.vocab))), Array.from(r.vocab));
  const q = applyRelabeling(p, r);
  const rng = createRng(3);
  const ids = Int32Array.from({ length: 64 }, () => rng.int(shape.vocab));
  const newIds = relabelIds(ids, r);
  const before = toMinerModel(p, [0.01, 0.9, 0.05]), after = toMinerModel(q, [0.01, 0.9, 0.05]);
  const x = new Float32Array(128), xq = new Float32Array(128);
  let maxDiff = 0;
  for (let pos = 4; pos < ids.length; pos += 7) {
    fillContext(p, ids, pos, x, 0);
    fillContext(q, newIds, pos, xq, 0);
    const a = minerForward(before, x), b = minerForward(after, xq);
    for (let j = 0; j < shape.vocab; j++) maxDiff = Math.max(maxDiff, Math.abs(b[j] - a[r.vocab[j]]));
  }
  assert.ok(maxDiff < 1e-4, `max logit difference ${maxDiff}`);
});

test("relabeled weights keep more energy on the diagonals that survive pruning", () => {
  const p = structuredModel(5);
  const q = applyRelabeling(p, planRelabeling(p, 0.25));
  for (const rate of [0.25, 0.5]) {
    const w1 = [keptEnergy(p.W1, 128, 128, rate), keptEnergy(q.W1, 128, 128, rate)];
    const w2 = [keptEnergy(p.W2, 128, shape.vocab, rate), keptEnergy(q.W2, 128, shape.vocab, rate)];
    assert.ok(w1[1] > w1[0] + 0.02, `W1 at r = ${rate}: ${w1[0]} → ${w1[1]}`);
    assert.ok(w2[1] > w2[0] + 0.02, `W2 at r = ${rate}: ${w2[0]} → ${w2[1]}`);
  }
});

test("relabeling refuses rates outside (0, 1) and shapes it cannot pack", () => {
  const p = structuredModel(1);
  assert.throws(() => planRelabeling(p, 0), /squeeze rate/);
  assert.throws(() => planRelabeling(p, 1), /squeeze rate/);
  const odd = initParams({ vocab: 50, n: 3, embed: 20, hidden: 64 }, createRng(2));
  assert.throws(() => planRelabeling(odd, 0.25), /power of two/);
});
