/**
 * Fixed-point quantization: every weight/bias becomes a multiple of 2^−bits (round to nearest). With the CKKS
 * scale at 2^36 the encoder carries far more precision than that; 2^−12 is what we state the model at.
 */
export function quantize(values: Float32Array, bits: number): Float32Array {
  const s = 2 ** bits;
  return values.map((v) => Math.round(v * s) / s);
}

export function isQuantized(values: Float32Array, bits: number): boolean {
  const s = 2 ** bits;
  return values.every((v) => Number.isInteger(v * s));
}
