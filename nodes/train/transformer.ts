import { ModelShapeError } from "../model/miner-model.ts";
import type { Rng } from "../core/prng.ts";
import { Tape, type Var } from "./autodiff.ts";

/**
 * The causal transformer LM (one block), in the two forms the squeeze goes through.
 *
 *   u_t = [C[w_{t−s+1}] … C[w_t]]                  token-shift embedding: the last s words, oldest first (client)
 *   x_t = LN(u_t)·g0 + b0                          exact layer norm (client: it holds u_t in plaintext)
 *   s_{t,j} = x_t·A·x_j + rel[t−j]                 for the positions j of the window (window.ts)
 *   a = softmax_j(s)                               exact (client, between rounds)
 *   y_t = x_t + (Σ_j a_{t,j} x_j)·Wov + bo
 *   z_t = y_t + act(N1(y_t)·W1 + b1)·W2 + b2
 *   logits_t = Nf(z_t)·U + bU
 *
 * float form: A = Wq·Wkᵀ/√d and Wov = Wv·Wo are trained as factors, N = layer norm (gain, bias), act = GELU (tanh
 *             approximation).
 * FHE form:   A and Wov are trained as they are (the miner computes exactly these products), the norms are gone —
 *             each is folded into the matrix after it (N(v) = (v − mean v)/σ̄·γ + β with the token's σ replaced by its
 *             training average σ̄ is an affine map), act = c0 + c1·h + c2·h² (one ct×ct square).
 * Softmax and the input layer norm stay exact in both: the client applies them.
 */
export interface TransformerShape {
  readonly vocab: number;
  /** Embedding width per word. */
  readonly embed: number;
  /** Words in the token-shift input (the current word and shift−1 before it). */
  readonly shift: number;
  readonly ff: number;
  /** Attention window W (the KV cache's capacity, window.ts). */
  readonly window: number;
}

export type TransformerForm = "float" | "fhe";

export const FLOAT_TENSORS = ["C", "g0", "b0", "rel", "Wq", "Wk", "Wv", "Wo", "bo", "n1g", "n1b", "W1", "b1", "W2", "b2", "nfg", "nfb", "U", "bU"] as const;
export const FHE_TENSORS = ["C", "g0", "b0", "rel", "A", "Wov", "bo", "W1", "b1", "c", "W2", "b2", "U", "bU"] as const;
export type TransformerTensor = (typeof FLOAT_TENSORS)[number] | (typeof FHE_TENSORS)[number];
/** The client's tensors (embeddings, input norm, position bias): never on the miner, never pruned or quantized. */
export const CLIENT_TENSORS: readonly TransformerTensor[] = ["C", "g0", "b0", "rel"];

export interface TransformerParams {
  readonly shape: TransformerShape;
  readonly form: TransformerForm;
  readonly t: Partial<Record<TransformerTensor, Float32Array>>;
}

export function tensorsOf(form: TransformerForm): readonly TransformerTensor[] {
  return form === "float" ? FLOAT_TENSORS : FHE_TENSORS;
}

/** A tensor that must exist. */
export function tensor(p: TransformerParams, k: TransformerTensor): Float32Array {
  const v = p.t[k];
  if (v === undefined) throw new ModelShapeError(`the ${p.form} transformer has no tensor ${k}`);
  return v;
}

export function modelWidth(s: TransformerShape): number {
  return s.embed * s.shift;
}

export function tensorShapes(s: TransformerShape): Record<TransformerTensor, number[]> {
  const d = modelWidth(s);
  return {
    C: [s.vocab, s.embed], g0: [d], b0: [d], rel: [s.window], Wq: [d, d], Wk: [d, d], Wv: [d, d], Wo: [d, d], bo: [d],
    A: [d, d], Wov: [d, d], n1g: [d], n1b: [d], W1: [d, s.ff], b1: [s.ff], c: [3], W2: [s.ff, d], b2: [d], nfg: [d], nfb: [d],
    U: [d, s.vocab], bU: [s.vocab],
  };
}

export function initTransformer(shape: TransformerShape, rng: Rng): TransformerParams {
  const d = modelWidth(shape);
  const shapes = tensorShapes(shape);
  const uni = (n: number, a: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * a);
  const size = (k: TransformerTensor) => shapes[k].reduce((x, y) => x * y, 1);
  const t: Partial<Record<TransformerTensor, Float32Array>> = {};
  for (const k of FLOAT_TENSORS) t[k] = new Float32Array(size(k));
  t.C = uni(size("C"), 0.1);
  for (const k of ["Wq", "Wk", "Wv", "Wo"] as const) t[k] = uni(size(k), 1 / Math.sqrt(d));
  t.W1 = uni(size("W1"), 1 / Math.sqrt(d));
  t.W2 = uni(size("W2"), 0.5 / Math.sqrt(shape.ff));
  t.U = uni(size("U"), 1 / Math.sqrt(d));
  for (const k of ["g0", "n1g", "nfg"] as const) t[k]!.fill(1);
  return { shape, form: "float", t };
}

export function cloneTransformer(p: TransformerParams): TransformerParams {
  const t: Partial<Record<TransformerTensor, Float32Array>> = {};
  for (const k of tensorsOf(p.form)) t[k] = tensor(p, k).slice();
  return { shape: p.shape, form: p.form, t };
}

/** Graph inputs of a form: every tensor but the embeddings (X is gathered in TS and its gradient scattered back). */
export function graphTensors(form: TransformerForm): TransformerTensor[] {
  return tensorsOf(form).filter((k) => k !== "C");
}

export interface GraphOptions {
  form: TransformerForm;
  batch: number;
  /** Positions per sequence (≤ window). */
  seq: number;
  /** Backward pass and the range penalty input (training); false = log-probabilities only. */
  train: boolean;
  /**
   * Training graphs: dropout masks as inputs (`drop_attn` [B,T,d] on the attention output, `drop_ffn` [B,T,ff] on the
   * FFN activation; 0 or 1/(1 − p), drawn by the trainer each step). Evaluation graphs have none.
   */
  dropout?: boolean;
  /** Training graphs: a dropout mask `drop_out` [B,T,d] on the output layer's input (the normalized z). */
  outputDropout?: boolean;
  dtype?: "float32" | "float64";
}

const LN_EPS = 1e-5;

/**
 * The forward graph (and with `train` the loss's gradient for every tensor and for X). Inputs: X [B,T,d] (token-shift
 * embeddings), y [B·T] int64 (next word per position), weight [B·T] (1 = scored), invCount [1], the form's tensors;
 * the FHE form's training graph adds `range` [1] and `lambda` [1] (penalty λ·Σ relu(|h| − R)² on the FFN
 * pre-activation, per scored position). Outputs `logp` [B·T] and `h_ff` (the FFN pre-activation, for calibration);
 * the float form also `sd1`, `sdf` (each token's standard deviation inside the two norms, for folding them); training
 * adds `loss`, `grad_<tensor>` and `grad_X`.
 */
export function buildTransformerGraph(shape: TransformerShape, o: GraphOptions): Uint8Array {
  const { batch: B, seq: T } = o;
  const d = modelWidth(shape), W = shape.window, F = shape.ff;
  if (T > W) throw new ModelShapeError(`sequence ${T} longer than the window ${W}`);
  const tape = new Tape(`transformer_${o.form}_${o.train ? "train" : "eval"}`, o.dtype ?? "float32");
  const shapes = tensorShapes(shape);
  const X = tape.input("X", [B, T, d], o.train);
  const y = tape.intInput("y", [B * T]);
  const weight = tape.input("weight", [B * T]);
  const invCount = tape.input("invCount", [1]);
  const p = {} as Record<TransformerTensor, Var>;
  for (const k of graphTensors(o.form)) p[k] = tape.input(k, shapes[k], o.train);

  const layerNorm = (v: Var, g: Var, b: Var, sdName?: string): Var => {
    const c = tape.sub(v, tape.mean(v, [v.shape.length - 1]));
    const sd = tape.sqrt(tape.addScalar(tape.mean(tape.mul(c, c), [v.shape.length - 1]), LN_EPS));
    if (sdName !== undefined && !o.train) {
      tape.g.node("Identity", [sd.name], {}, sdName);
      tape.output(sdName, sd.shape);
    }
    return tape.add(tape.mul(tape.div(c, sd), g), b);
  };

  const x = layerNorm(X, p.g0, p.b0);                                             // [B,T,d]
  const xT = tape.transpose(x, [0, 2, 1]);                                          // [B,d,T]
  const scores = o.form === "float"
    ? tape.scale(tape.matmul(tape.matmul(x, p.Wq), tape.transpose(tape.matmul(x, p.Wk), [0, 2, 1])), 1 / Math.sqrt(d))
    : tape.matmul(tape.matmul(x, p.A), xT);                                         // [B,T,T]
  // rel[t − j] through a constant one-hot [W, T·T] (its gradient is one more MatMul), then the causal mask.
  const onehot = new Float64Array(W * T * T);
  const mask = new Float64Array(T * T);
  for (let t = 0; t < T; t++) for (let j = 0; j < T; j++) {
    if (j <= t) onehot[(t - j) * T * T + t * T + j] = 1;
    else mask[t * T + j] = -1e9;
  }
  const bias = tape.reshape(tape.matmul(tape.reshape(p.rel, [1, W]), tape.constant(onehot, [W, T * T])), [T, T]);
  const a = tape.softmax(tape.add(tape.add(scores, bias), tape.constant(mask, [T, T])));
  const u = tape.matmul(a, x);                                                      // [B,T,d]
  const dropped = o.train && o.dropout === true;
  const attn0 = o.form === "float" ? tape.matmul(tape.matmul(u, p.Wv), p.Wo) : tape.matmul(u, p.Wov);
  const attn = dropped ? tape.mul(attn0, tape.input("drop_attn", [B, T, d])) : attn0;
  const yv = tape.add(x, tape.add(attn, p.bo));
  const n1 = o.form === "float" ? layerNorm(yv, p.n1g, p.n1b, "sd1") : yv;
  const hff = tape.add(tape.matmul(n1, p.W1), p.b1);                                // [B,T,F]
  tape.g.node("Identity", [hff.name], {}, "h_ff");
  tape.output("h_ff", [B, T, F]);
  let act: Var;
  if (o.form === "float") {
    // GELU, tanh approximation: ½h(1 + tanh(√(2/π)(h + 0.044715h³)))
    const h3 = tape.mul(tape.mul(hff, hff), hff);
    const inner = tape.scale(tape.add(hff, tape.scale(h3, 0.044715)), Math.sqrt(2 / Math.PI));
    act = tape.mul(tape.scale(hff, 0.5), tape.addScalar(tape.tanh(inner), 1));
  } else {
    const c0 = tape.reshape(slice(tape, p.c, 0), [1]), c1 = tape.reshape(slice(tape, p.c, 1), [1]), c2 = tape.reshape(slice(tape, p.c, 2), [1]);
    act = tape.add(tape.add(tape.mul(tape.mul(hff, hff), c2), tape.mul(hff, c1)), c0);
  }
  if (dropped) act = tape.mul(act, tape.input("drop_ffn", [B, T, F]));
  const z = tape.add(yv, tape.add(tape.matmul(act, p.W2), p.b2));
  const nf0 = o.form === "float" ? layerNorm(z, p.nfg, p.nfb, "sdf") : z;
  const nf = o.train && o.outputDropout === true ? tape.mul(nf0, tape.input("drop_out", [B, T, d])) : nf0;
  const logits = tape.add(tape.matmul(tape.reshape(nf, [B * T, d]), p.U), p.bU);   // [B·T, V]
  let loss = tape.softmaxCrossEntropy(logits, y, weight, invCount);
  tape.output("logp", [B * T]);
  if (o.train) {
    if (o.form === "fhe") {
      const range = tape.input("range", [1]);
      const lambda = tape.input("lambda", [1]);
      loss = tape.add(loss, tape.reshape(tape.mul(tape.reshape(tape.rangePenalty(hff, range), [1]), tape.mul(lambda, invCount)), []));
    }
    tape.g.node("Identity", [loss.name], {}, "loss");
    tape.output("loss", []);
    const ks = graphTensors(o.form);
    tape.backward(loss, [X, ...ks.map((k2) => p[k2])]);
    tape.output("grad_X", [B, T, d]);
    for (const k2 of ks) tape.output(`grad_${k2}`, shapes[k2]);
  }
  return tape.build(`Cerberus transformer LM (${o.form} form), ${o.train ? "training step" : "evaluation"}: B ${B}, T ${T}`);
}

/** Element k of a 1-D tensor as a [1] tensor, differentiably (a constant one-hot row · c). */
function slice(tape: Tape, c: Var, k: number): Var {
  const e = new Float64Array(c.shape[0]!);
  e[k] = 1;
  return tape.matmul(tape.constant(e, [1, c.shape[0]!]), tape.reshape(c, [c.shape[0]!, 1]));
}

/**
 * The token-shift input for positions start … start+count−1 of `ids`: X[t] = [C[ids[q−s+1]] … C[ids[q]]] with
 * q = start + t; words before `historyStart` are padding 0, as the client pads the start of its history.
 */
export function fillTokenShift(p: TransformerParams, ids: ArrayLike<number>, start: number, count: number, historyStart: number, X: Float32Array, offset: number): void {
  const { embed: e, shift: s } = p.shape;
  const C = tensor(p, "C");
  const d = e * s;
  for (let t = 0; t < count; t++) {
    for (let k = 0; k < s; k++) {
      const j = start + t - s + 1 + k;
      const id = j >= historyStart ? ids[j]! : 0;
      X.set(C.subarray(id * e, id * e + e), offset + t * d + k * e);
    }
  }
}

/** The embedding gradient from grad_X (the reverse of fillTokenShift). */
export function scatterTokenShift(p: TransformerParams, ids: ArrayLike<number>, start: number, count: number, historyStart: number, gX: Float32Array, offset: number, gC: Float32Array): void {
  const { embed: e, shift: s } = p.shape;
  const d = e * s;
  for (let t = 0; t < count; t++) {
    for (let k = 0; k < s; k++) {
      const j = start + t - s + 1 + k;
      const id = j >= historyStart ? ids[j]! : 0;
      const src = offset + t * d + k * e, dst = id * e;
      for (let i = 0; i < e; i++) gC[dst + i] += gX[src + i]!;
    }
  }
}

/**
 * The FHE form of a float model, before any fine-tuning ("naive"): A = Wq·Wkᵀ/√d, Wov = Wv·Wo, each norm folded
 * into the matrix after it with the token's σ replaced by its training average (sigma1, sigmaF), and GELU replaced by
 * the polynomial c. W' = Cen·diag(γ/σ̄)·W, b' = β·W + b, Cen = I − 11ᵀ/d (the centring, exact and linear).
 */
export function toFheForm(p: TransformerParams, sigma1: number, sigmaF: number, c: readonly [number, number, number]): TransformerParams {
  if (p.form !== "float") throw new ModelShapeError("toFheForm takes a float model");
  const d = modelWidth(p.shape);
  const mm = (a: Float32Array, b: Float32Array, n: number, k: number, m: number, transB = false) => {
    const out = new Float32Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q]! * (transB ? b[j * k + q]! : b[q * m + j]!);
      out[i * m + j] = s;
    }
    return out;
  };
  const A = mm(tensor(p, "Wq"), tensor(p, "Wk"), d, d, d, true).map((v) => v / Math.sqrt(d));
  const Wov = mm(tensor(p, "Wv"), tensor(p, "Wo"), d, d, d);
  const fold = (g: Float32Array, beta: Float32Array, sigma: number, W: Float32Array, b: Float32Array, m: number) => {
    // Rows of diag(γ/σ̄)·W, then centred over the input axis: (Cen·M)[i] = M[i] − mean_r M[r].
    const M = new Float32Array(d * m);
    for (let i = 0; i < d; i++) for (let j = 0; j < m; j++) M[i * m + j] = (g[i]! / sigma) * W[i * m + j]!;
    for (let j = 0; j < m; j++) {
      let mean = 0;
      for (let i = 0; i < d; i++) mean += M[i * m + j]!;
      mean /= d;
      for (let i = 0; i < d; i++) M[i * m + j] = M[i * m + j]! - mean;
    }
    const bias = b.slice();
    for (let j = 0; j < m; j++) { let s = 0; for (let i = 0; i < d; i++) s += beta[i]! * W[i * m + j]!; bias[j] = bias[j]! + s; }
    return { M, bias };
  };
  const f1 = fold(tensor(p, "n1g"), tensor(p, "n1b"), sigma1, tensor(p, "W1"), tensor(p, "b1"), p.shape.ff);
  const ff = fold(tensor(p, "nfg"), tensor(p, "nfb"), sigmaF, tensor(p, "U"), tensor(p, "bU"), p.shape.vocab);
  const t: Partial<Record<TransformerTensor, Float32Array>> = {
    C: tensor(p, "C").slice(), g0: tensor(p, "g0").slice(), b0: tensor(p, "b0").slice(), rel: tensor(p, "rel").slice(),
    A, Wov, bo: tensor(p, "bo").slice(), W1: f1.M, b1: f1.bias, c: Float32Array.from(c), W2: tensor(p, "W2").slice(), b2: tensor(p, "b2").slice(),
    U: ff.M, bU: ff.bias,
  };
  return { shape: p.shape, form: "fhe", t };
}
