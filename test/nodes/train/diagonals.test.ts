import { test } from "node:test";
import assert from "node:assert/strict";
import { diagonalLayout, diagonalMask, diagonalNorms, zeroDiagonals } from "../../../nodes/train/diagonals.ts";
import { createRng } from "../../../nodes/core/prng.ts";

// Reference: diagonals built literally from interfaces.md — M = Wᵀ (out × in), slot i of diagonal (b, d) holds
// M[b·S + i][(i + d) mod p], rows replicated (row i ↦ M[i mod out_p]) when out < S, zero outside the real matrix.
function literalDiagonals(W: Float32Array, inDim: number, outDim: number, S: number): Float64Array[] {
  const L = diagonalLayout(inDim, outDim, S);
  const M = (row: number, col: number) => (row < outDim && col < inDim ? W[col * outDim + row] : 0);
  const diags: Float64Array[] = [];
  for (let b = 0; b < L.blocks; b++) {
    for (let d = 0; d < L.p; d++) {
      const v = new Float64Array(S);
      for (let i = 0; i < S; i++) {
        const row = outDim < S ? i % L.outP : b * S + i;
        v[i] = M(row, (i + d) % L.p);
      }
      diags.push(v);
    }
  }
  return diags;
}

const norm = (v: Float64Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

for (const [inDim, outDim, S] of [[128, 128, 4096], [128, 5000, 4096], [16, 40, 64], [128, 14114, 4096]] as const) {
  test(`diagonal norms and pruning mask follow the interface definition (in ${inDim}, out ${outDim}, S ${S})`, () => {
    const rng = createRng(inDim + outDim);
    const W = Float32Array.from({ length: inDim * outDim }, () => rng.next() * 2 - 1);
    const lit = literalDiagonals(W, inDim, outDim, S);
    const norms = diagonalNorms(W, diagonalLayout(inDim, outDim, S));
    assert.equal(norms.length, lit.length);
    lit.forEach((v, k) => assert.ok(Math.abs(norm(v) - norms[k]) < 1e-6 * (1 + norms[k]), `norm of diagonal ${k}`));

    for (const rate of [0, 0.25, 0.5, 0.75]) {
      const mask = diagonalMask(W, inDim, outDim, rate, S);
      const pruned = W.map((w, i) => (mask[i] ? w : 0));
      const after = literalDiagonals(pruned, inDim, outDim, S).map(norm);
      const zero = after.map((n, k) => (n === 0 ? k : -1)).filter((k) => k >= 0);
      const L = diagonalLayout(inDim, outDim, S);
      assert.equal(zero.length, L.blocks * Math.floor(rate * L.p), `rate ${rate}: number of zero diagonals`);
      // In every output block, the zeroed ones are exactly the smallest by original norm; the others are untouched.
      for (let b = 0; b < L.blocks; b++) {
        const inBlock = (k: number) => Math.floor(k / L.p) === b;
        const zb = zero.filter(inBlock);
        assert.equal(zb.length, Math.floor(rate * L.p), `rate ${rate}, block ${b}`);
        const maxZeroed = Math.max(-Infinity, ...zb.map((k) => norms[k]));
        after.forEach((n, k) => {
          if (n !== 0 && inBlock(k)) {
            assert.ok(norms[k] >= maxZeroed, `kept diagonal ${k} is not smaller than a pruned one of its block`);
            assert.ok(Math.abs(n - norms[k]) < 1e-9 * (1 + n), `kept diagonal ${k} unchanged`);
          }
        });
      }
      assert.equal(zeroDiagonals(pruned, inDim, outDim, S).zero, zero.length);
    }
  });
}

test("a planted structure is pruned diagonal by diagonal (W1 128×128: d-th diagonal has magnitude d+1)", () => {
  const W = new Float32Array(128 * 128);
  for (let k = 0; k < 128; k++) for (let o = 0; o < 128; o++) W[k * 128 + o] = (((k - o + 128) % 128) + 1) * (o % 2 ? 1 : -1);
  const mask = diagonalMask(W, 128, 128, 0.25);
  for (let k = 0; k < 128; k++) for (let o = 0; o < 128; o++) {
    const d = (k - o + 128) % 128;
    assert.equal(mask[k * 128 + o], d < 32 ? 0 : 1);
  }
});

test("bad squeeze rates and layouts are typed errors", () => {
  assert.throws(() => diagonalMask(new Float32Array(4), 2, 2, 1), { code: "MODEL_SHAPE" });
  assert.throws(() => diagonalMask(new Float32Array(4), 2, 2, -0.1), { code: "MODEL_SHAPE" });
  assert.throws(() => diagonalLayout(128, 64, 4096), { code: "MODEL_SHAPE" });
});
