import { ModelShapeError } from "../model/miner-model.ts";
import type { Rng } from "../core/prng.ts";

/** Shape of the Bengio-style MLP. Input to the miner part is (n−1)·embed floats. */
export interface MlpShape {
  readonly vocab: number;   // V (real vocabulary; id 0 = unknown symbol)
  readonly n: number;       // n-gram order: n−1 context words
  readonly embed: number;   // embedding dim
  readonly hidden: number;  // H
}

/** The activation between the two layers: tanh (float model) or p(h) = c0 + c1·h + c2·h² (squeezed model). */
export type Activation = { kind: "tanh" } | { kind: "poly"; c: readonly [number, number, number] };

/**
 * All trainable tensors, row-major float32. W1 is stored in × out ([I,H]) and W2 is [H,V], matching ONNX MatMul
 * (x·W), so the miner export copies them as they are.
 */
export interface MlpParams {
  readonly shape: MlpShape;
  C: Float32Array;   // [V, embed]
  W1: Float32Array;  // [I, H]
  b1: Float32Array;  // [H]
  W2: Float32Array;  // [H, V]
  b2: Float32Array;  // [V]
}

export { ModelShapeError };

export function inputSize(shape: MlpShape): number {
  return (shape.n - 1) * shape.embed;
}

/** Uniform(−1/√fan_in, 1/√fan_in) weights, zero biases; embeddings Uniform(−0.1, 0.1) — deterministic from `rng`. */
export function initParams(shape: MlpShape, rng: Rng): MlpParams {
  const I = inputSize(shape);
  const uni = (len: number, a: number) => { const v = new Float32Array(len); for (let i = 0; i < len; i++) v[i] = (rng.next() * 2 - 1) * a; return v; };
  return {
    shape,
    C: uni(shape.vocab * shape.embed, 0.1),
    W1: uni(I * shape.hidden, 1 / Math.sqrt(I)),
    b1: new Float32Array(shape.hidden),
    W2: uni(shape.hidden * shape.vocab, 1 / Math.sqrt(shape.hidden)),
    b2: new Float32Array(shape.vocab),
  };
}

export function cloneParams(p: MlpParams): MlpParams {
  return { shape: p.shape, C: p.C.slice(), W1: p.W1.slice(), b1: p.b1.slice(), W2: p.W2.slice(), b2: p.b2.slice() };
}

/**
 * Writes the miner inputs for predicting stream[pos] (context stream[pos−n+1 … pos−1], oldest first) into
 * x[row·I …]. History before the stream's start is padded with id 0, as the client does (client-model.ts
 * contextInput), so a model with more context words than FIRST_PREDICTED still scores the same positions. `from`
 * moves that start (the generation regime, regime.ts: the client holds only the words from `from` on).
 */
export function fillContext(p: MlpParams, stream: Int32Array, pos: number, x: Float32Array, row: number, from = 0): void {
  const { n, embed } = p.shape;
  const I = (n - 1) * embed;
  for (let k = 0; k < n - 1; k++) {
    const j = pos - n + 1 + k;
    const id = j >= from ? stream[j] : 0;
    x.set(p.C.subarray(id * embed, id * embed + embed), row * I + k * embed);
  }
}
