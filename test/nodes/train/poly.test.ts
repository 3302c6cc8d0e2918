import { test } from "node:test";
import assert from "node:assert/strict";
import { calibrateRange, evalPoly, fitTanhPoly2, maxFitError, type Poly2 } from "../../../nodes/train/poly.ts";
import { createRng } from "../../../nodes/core/prng.ts";

const sse = (c: Poly2, h: Float32Array, R: number) => {
  let s = 0;
  for (const v of h) { const x = Math.max(-R, Math.min(R, v)); s += (Math.tanh(x) - evalPoly(c, x)) ** 2; }
  return s;
};

test("degree-2 tanh fit is the least-squares optimum on the samples", () => {
  const rng = createRng(3);
  const h = Float32Array.from({ length: 20000 }, () => (rng.next() + rng.next() + rng.next() - 1.2) * 1.5);
  const R = calibrateRange(h, 0.999);
  const c = fitTanhPoly2(h, R);
  const base = sse(c, h, R);
  for (let k = 0; k < 3; k++) for (const delta of [-1e-3, 1e-3]) {
    const d = [...c] as [number, number, number];
    d[k] += delta;
    assert.ok(sse(d, h, R) > base, `perturbing c${k} by ${delta} must not improve the fit`);
  }
  // Samples skewed to positive h (tanh is concave there) → c2 < 0; a decent fit where the samples are.
  assert.ok(c[2] < 0);
  const rms = Math.sqrt(base / h.length);
  assert.ok(rms < 0.1, `rms fit error ${rms}`);
  // The uniform-grid max error is larger than the sample-weighted one (the fit ignores unpopulated h).
  assert.ok(maxFitError(c, R) > rms);
});

test("symmetric samples give an (almost) odd fit: tanh has no even part", () => {
  const h = Float32Array.from({ length: 2001 }, (_, i) => -2 + (4 * i) / 2000);
  const c = fitTanhPoly2(h, 2);
  assert.ok(Math.abs(c[0]) < 1e-6 && Math.abs(c[2]) < 1e-6, `c = ${c}`);
  assert.ok(c[1] > 0.4 && c[1] < 1);
});

test("calibrated range is the quantile of |h|", () => {
  const h = Float32Array.from({ length: 1000 }, (_, i) => (i % 2 ? 1 : -1) * (i + 1) / 1000);
  assert.ok(Math.abs(calibrateRange(h, 0.9) - 0.901) < 1e-6);
});
