/**
 * Degree-2 least-squares fit of tanh on the hidden pre-activations seen on training data, restricted to the
 * calibrated range [−R, R] (samples outside are clamped to it, which is what the range penalty enforces later).
 * Degree 2 because the FHE plan has exactly one ct×ct multiply to spend on the activation (interfaces.md).
 */
import type { Poly2 } from "../model/miner-model.ts";
export type { Poly2 };

export function evalPoly(c: Poly2, h: number): number {
  return c[0] + c[1] * h + c[2] * h * h;
}

/** Range R = the `quantile` of |h| (e.g. 0.999), so a handful of outliers do not stretch the fit. */
export function calibrateRange(h: Float32Array, quantile = 0.999): number {
  const a = Float32Array.from(h, Math.abs).sort();
  return a[Math.min(a.length - 1, Math.floor(quantile * a.length))];
}

/** Weighted least squares: minimise Σ (tanh(h_i) − p(h_i))² over the samples (clamped to [−R, R]). */
export function fitTanhPoly2(h: Float32Array, range: number): Poly2 {
  // Normal equations A c = r with A_jk = Σ h^(j+k), r_j = Σ h^j tanh(h).
  const S = new Float64Array(5), r = new Float64Array(3);
  for (let i = 0; i < h.length; i++) {
    const v = Math.max(-range, Math.min(range, h[i]));
    const t = Math.tanh(v);
    let pw = 1;
    for (let k = 0; k < 5; k++) { S[k] += pw; if (k < 3) r[k] += pw * t; pw *= v; }
  }
  return solve3([[S[0], S[1], S[2]], [S[1], S[2], S[3]], [S[2], S[3], S[4]]], Array.from(r));
}

/** Max |tanh − p| over [−R, R] (grid), to report the fit quality. */
export function maxFitError(c: Poly2, range: number, steps = 2001): number {
  let m = 0;
  for (let i = 0; i < steps; i++) { const h = -range + (2 * range * i) / (steps - 1); m = Math.max(m, Math.abs(Math.tanh(h) - evalPoly(c, h))); }
  return m;
}

function solve3(A: number[][], b: number[]): Poly2 {
  const M = A.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < 3; col++) {
    let piv = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(M[r][col]) > Math.abs(M[piv][col])) piv = r;
    [M[col], M[piv]] = [M[piv], M[col]];
    for (let r = 0; r < 3; r++) {
      if (r === col) continue;
      const f = M[r][col] / M[col][col];
      for (let k = col; k < 4; k++) M[r][k] -= f * M[col][k];
    }
  }
  return [M[0][3] / M[0][0], M[1][3] / M[1][1], M[2][3] / M[2][2]];
}
