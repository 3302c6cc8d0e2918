import { UnsupportedOpError } from "./errors.ts";

/**
 * Generalized diagonals (interfaces.md, binding for the model's pruning and this compiler): for y = M·x with M of
 * shape out × in, in padded to p (a power of two dividing the slot count S), the input is replicated S/p times.
 * Output block b holds rows b·S … b·S+S−1 (for out < S rows repeat with period outP = nextPow2(out): slot i means
 * row i mod outP). Diagonal (b, d), d ∈ [0, p), holds in slot i the value M[row(i)][(i + d) mod p]; the product is
 * Σ_d diag(b, d) ⊙ rot(x_rep, d).
 */
export interface LinearLayout {
  readonly inDim: number;
  readonly outDim: number;
  readonly slots: number;
  /** Input padding / replication period. */
  readonly p: number;
  /** Output replication period when outDim < slots, else slots. */
  readonly outP: number;
  readonly blocks: number;
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function linearLayout(inDim: number, outDim: number, slots: number): LinearLayout {
  if (inDim > slots) {
    throw new UnsupportedOpError("MatMul", `input of ${inDim} values does not fit one ciphertext of ${slots} slots`);
  }
  const p = nextPow2(inDim);
  const outP = outDim < slots ? nextPow2(outDim) : slots;
  return { inDim, outDim, slots, p, outP, blocks: outDim <= slots ? 1 : Math.ceil(outDim / slots) };
}

function rowOf(l: LinearLayout, b: number, i: number): number {
  return l.outDim < l.slots ? i % l.outP : b * l.slots + i;
}

/** Diagonal (b, d) of M (row-major out × in) in the layout; `into` reused if given. */
export function diagonal(M: Float64Array, l: LinearLayout, b: number, d: number, into?: Float64Array): Float64Array {
  const out = into ?? new Float64Array(l.slots);
  for (let i = 0; i < l.slots; i++) {
    const r = rowOf(l, b, i);
    const c = (i + d) % l.p;
    out[i] = r < l.outDim && c < l.inDim ? M[r * l.inDim + c] : 0;
  }
  return out;
}

/**
 * Squeeze-rate pruning on an ONNX MatMul weight W stored in × out (so M = Wᵀ): zeroes, in place, the fraction
 * `rate` of the generalized diagonals (b, d) with the smallest L2 norms. Returns how many diagonals were zeroed.
 */
export function pruneDiagonals(W: Float32Array | Float64Array, inDim: number, outDim: number, slots: number,
  rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`squeeze rate ${rate} not in [0, 1]`);
  const l = linearLayout(inDim, outDim, slots);
  const norms: { b: number; d: number; n: number }[] = [];
  for (let b = 0; b < l.blocks; b++) {
    for (let d = 0; d < l.p; d++) {
      let n = 0;
      for (let i = 0; i < slots; i++) {
        const r = rowOf(l, b, i);
        const c = (i + d) % l.p;
        if (r < outDim && c < inDim) n += W[c * outDim + r] ** 2;
      }
      norms.push({ b, d, n });
    }
  }
  norms.sort((x, y) => x.n - y.n);
  const k = Math.floor(rate * norms.length);
  for (const { b, d } of norms.slice(0, k)) {
    for (let i = 0; i < slots; i++) {
      const r = rowOf(l, b, i);
      const c = (i + d) % l.p;
      if (r < outDim && c < inDim) W[c * outDim + r] = 0;
    }
  }
  return k;
}

/** Rotate left by k (what CKKS rotateVector(+k) does to the slot vector). */
export function rotateLeft(v: Float64Array, k: number): Float64Array {
  const n = v.length;
  const out = new Float64Array(n);
  const s = ((k % n) + n) % n;
  for (let i = 0; i < n; i++) out[i] = v[(i + s) % n];
  return out;
}
