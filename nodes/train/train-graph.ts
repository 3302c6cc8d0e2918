import { GraphBuilder, onnx } from "./onnx-builder.ts";

/**
 * ONNX graphs for the training step and for evaluation, run by onnxruntime-node (≈ 30–70 GFLOP/s here vs ≈ 1 for
 * TS loops, see STACK.md). Weights are graph inputs; the optimizer update and the embedding scatter stay in TS.
 *
 * Forward:  h = x·W1 + b1;  a = act(h);  s = a·W2 + b2;  P = softmax(s)
 * Loss:     (1−α)·CE(y, P) + α·CE(P_teacher, P)   → dL/ds = (P − T)/B with T = (1−α)·onehot(y) + α·P_teacher
 * Range:    + λ·Σ relu(|h| − R)² / B               → keeps h inside the polynomial's fitted range
 * Backward: dW2 = aᵀG, db2 = ΣG, da = G·W2ᵀ, dh = da ⊙ act'(h) + 2λ/B·excess(h), dW1 = xᵀdh, db1 = Σdh, dx = dh·W1ᵀ
 */
export interface GraphSpec {
  readonly vocab: number;
  readonly input: number;
  readonly hidden: number;
  readonly act: "tanh" | "poly";
  /** Adds teacher inputs (xt, W1t, b1t, W2t, b2t: a tanh model) and the distillation weight `alpha`. */
  readonly distill: boolean;
}

const I64 = onnx.TensorProto.DataType.INT64;

function activation(g: GraphBuilder, act: "tanh" | "poly", h: string): { a: string; deriv: (da: string) => string } {
  if (act === "tanh") {
    const a = g.node("Tanh", [h]);
    return { a, deriv: (da) => g.node("Mul", [da, g.node("Sub", ["one", g.node("Mul", [a, a])])]) };
  }
  // c = [c0, c1, c2] as a graph input so one graph serves every polynomial.
  const c0 = g.node("Gather", ["c", "i0"], { axis: 0 });
  const c1 = g.node("Gather", ["c", "i1"], { axis: 0 });
  const c2 = g.node("Gather", ["c", "i2"], { axis: 0 });
  const a = g.node("Add", [g.node("Add", [g.node("Mul", [g.node("Mul", [h, h]), c2]), g.node("Mul", [h, c1])]), c0]);
  // p'(h) = c1 + 2·c2·h
  const deriv = (da: string) => g.node("Mul", [da, g.node("Add", [c1, g.node("Mul", [h, g.node("Mul", [c2, "two"])])])]);
  return { a, deriv };
}

function commonInputs(g: GraphBuilder, s: GraphSpec): void {
  g.input("x", ["B", s.input]);
  g.input("y", ["B"], I64);
  g.input("W1", [s.input, s.hidden]);
  g.input("b1", [s.hidden]);
  g.input("W2", [s.hidden, s.vocab]);
  g.input("b2", [s.vocab]);
  if (s.act === "poly") g.input("c", [3]);
  g.floatInit("one", [], [1]);
  g.floatInit("two", [], [2]);
  g.int64Init("i0", [], [0]);
  g.int64Init("i1", [], [1]);
  g.int64Init("i2", [], [2]);
  g.int64Init("ax0", [1], [0]);
  g.int64Init("ax1", [1], [1]);
}

/** logp[b] = log P(y_b | x_b) — evaluation and perplexity. */
export function buildEvalGraph(s: GraphSpec): Uint8Array {
  const g = new GraphBuilder("mlp_eval");
  commonInputs(g, s);
  const h = g.node("Gemm", ["x", "W1", "b1"]);
  const { a } = activation(g, s.act, h);
  const logits = g.node("Gemm", [a, "W2", "b2"]);
  const ls = g.node("LogSoftmax", [logits], { axis: -1 });
  g.node("GatherElements", [ls, g.node("Unsqueeze", ["y", "ax1"])], { axis: 1 }, "logp");
  g.output("logp", ["B", 1]);
  g.node("Identity", [h], {}, "h");
  g.output("h", ["B", s.hidden]);
  return g.build("Bengio MLP evaluation: log-probability of the target word");
}

/** One forward+backward step. Outputs logp (data log-likelihood per row) and the gradients of the mean loss. */
export function buildTrainGraph(s: GraphSpec): Uint8Array {
  const g = new GraphBuilder("mlp_train_step");
  commonInputs(g, s);
  g.input("scale", [1]);      // 1/B
  g.input("range", [1]);      // R
  g.input("lam2", [1]);       // 2λ/B
  g.int64Init("depth", [1], [s.vocab]);
  g.floatInit("onehot_values", [2], [0, 1]);

  const h = g.node("Gemm", ["x", "W1", "b1"]);
  const { a, deriv } = activation(g, s.act, h);
  const logits = g.node("Gemm", [a, "W2", "b2"]);
  const P = g.node("Softmax", [logits], { axis: -1 });
  const ls = g.node("LogSoftmax", [logits], { axis: -1 });
  g.node("GatherElements", [ls, g.node("Unsqueeze", ["y", "ax1"])], { axis: 1 }, "logp");

  let T = g.node("OneHot", ["y", "depth", "onehot_values"], { axis: -1 });
  if (s.distill) {
    g.input("alpha", [1]);
    g.input("xt", ["B", s.input]);
    g.input("W1t", [s.input, s.hidden]);
    g.input("b1t", [s.hidden]);
    g.input("W2t", [s.hidden, s.vocab]);
    g.input("b2t", [s.vocab]);
    const Pt = g.node("Softmax", [g.node("Gemm", [g.node("Tanh", [g.node("Gemm", ["xt", "W1t", "b1t"])]), "W2t", "b2t"])], { axis: -1 });
    const oneMinus = g.node("Sub", ["one", "alpha"]);
    T = g.node("Add", [g.node("Mul", [T, oneMinus]), g.node("Mul", [Pt, "alpha"])]);
  }
  const G = g.node("Mul", [g.node("Sub", [P, T]), "scale"]);
  g.node("Gemm", [a, G], { transA: 1 }, "dW2");
  g.node("ReduceSum", [G, "ax0"], { keepdims: 0 }, "db2");
  const da = g.node("Gemm", [G, "W2"], { transB: 1 });
  // excess(h) = relu(h − R) − relu(−h − R): nonzero only outside [−R, R]
  const excess = g.node("Sub", [g.node("Relu", [g.node("Sub", [h, "range"])]), g.node("Relu", [g.node("Sub", [g.node("Neg", [h]), "range"])])]);
  const dh = g.node("Add", [deriv(da), g.node("Mul", [excess, "lam2"])]);
  if (s.act === "poly") {
    // Gradients of the polynomial coefficients themselves (they are fine-tuned too): Σ da·hᵏ.
    g.node("ReduceSum", [da], { keepdims: 0 }, "dc0");
    g.node("ReduceSum", [g.node("Mul", [da, h])], { keepdims: 0 }, "dc1");
    g.node("ReduceSum", [g.node("Mul", [da, g.node("Mul", [h, h])])], { keepdims: 0 }, "dc2");
    for (const k of ["dc0", "dc1", "dc2"]) g.output(k, []);
  }
  g.node("Gemm", ["x", dh], { transA: 1 }, "dW1");
  g.node("ReduceSum", [dh, "ax0"], { keepdims: 0 }, "db1");
  g.node("Gemm", [dh, "W1"], { transB: 1 }, "dx");
  // Range violation statistic for logs: fraction of |h| > R.
  g.node("ReduceMean", [g.node("Cast", [g.node("Greater", [g.node("Abs", [h]), "range"])], { to: onnx.TensorProto.DataType.FLOAT })], { keepdims: 0 }, "out_frac");

  g.output("logp", ["B", 1]);
  g.output("dW1", [s.input, s.hidden]);
  g.output("db1", [s.hidden]);
  g.output("dW2", [s.hidden, s.vocab]);
  g.output("db2", [s.vocab]);
  g.output("dx", ["B", s.input]);
  g.output("out_frac", []);
  return g.build("Bengio MLP training step: loss and gradients");
}
