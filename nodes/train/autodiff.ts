import { GraphBuilder, onnx } from "./onnx-builder.ts";

/**
 * Reverse-mode differentiation over ONNX graphs. A model's forward pass is written with the ops below (each records
 * its vector-Jacobian product); `backward(loss, params)` appends the backward pass as more ONNX nodes, so one graph
 * run by onnxruntime-node returns the loss and every gradient (the MLP's training graph is written by hand in
 * train-graph.ts; the transformer has too many ops for that). Shapes are static (the batch is fixed per graph).
 * Element type float32 for training, float64 for the finite-difference test of every op.
 */
export interface Var { readonly name: string; readonly shape: readonly number[] }

type Backward = (g: string) => void;

const FLOAT = onnx.TensorProto.DataType.FLOAT, DOUBLE = onnx.TensorProto.DataType.DOUBLE;

export class Tape {
  readonly g: GraphBuilder;
  readonly elem: number;
  readonly #backs: { out: Var; fn: Backward }[] = [];
  readonly #grads = new Map<string, string[]>();
  readonly #needs = new Set<string>();
  #const = 0;

  constructor(name: string, readonly dtype: "float32" | "float64" = "float32") {
    this.g = new GraphBuilder(name);
    this.elem = dtype === "float32" ? FLOAT : DOUBLE;
  }

  /** A graph input; `grad` marks a tensor gradients flow to (parameters, or inputs whose gradient is wanted). */
  input(name: string, shape: readonly number[], grad = false): Var {
    this.g.input(name, [...shape], this.elem);
    if (grad) this.#needs.add(name);
    return { name, shape };
  }

  intInput(name: string, shape: readonly number[]): Var {
    this.g.input(name, [...shape], onnx.TensorProto.DataType.INT64);
    return { name, shape };
  }

  constant(values: ArrayLike<number>, shape: readonly number[]): Var {
    const name = `const_${this.#const++}`;
    if (this.dtype === "float32") this.g.floatInit(name, [...shape], values);
    else this.g.doubleInit(name, [...shape], values);
    return { name, shape };
  }

  #ints(values: number[]): string {
    const name = `ints_${this.#const++}`;
    this.g.int64Init(name, [values.length], values);
    return name;
  }

  #scalar(v: number): string {
    return this.constant([v], []).name;
  }

  #needsGrad(...vs: Var[]): boolean {
    return vs.some((v) => this.#needs.has(v.name));
  }

  #record(out: Var, inputs: Var[], fn: Backward): Var {
    if (this.#needsGrad(...inputs)) {
      this.#needs.add(out.name);
      this.#backs.push({ out, fn });
    }
    return out;
  }

  #accumulate(v: Var, grad: string): void {
    if (!this.#needs.has(v.name)) return;
    const list = this.#grads.get(v.name) ?? [];
    list.push(grad);
    this.#grads.set(v.name, list);
  }

  /** The gradient of a broadcast operand: summed over the axes it was broadcast along, reshaped to its shape. */
  #unbroadcast(grad: string, from: readonly number[], to: readonly number[]): string {
    if (sameShape(from, to)) return grad;
    const lead = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      const t = i < lead ? 1 : to[i - lead]!;
      if (i < lead || (t === 1 && from[i] !== 1)) axes.push(i);
    }
    const summed = axes.length > 0 ? this.g.node("ReduceSum", [grad, this.#ints(axes)], { keepdims: 1 }) : grad;
    return this.g.node("Reshape", [summed, this.#ints([...to])]);
  }

  add(a: Var, b: Var): Var {
    const shape = broadcast(a.shape, b.shape);
    const out = { name: this.g.node("Add", [a.name, b.name]), shape };
    return this.#record(out, [a, b], (g) => {
      this.#accumulate(a, this.#unbroadcast(g, shape, a.shape));
      this.#accumulate(b, this.#unbroadcast(g, shape, b.shape));
    });
  }

  sub(a: Var, b: Var): Var {
    const shape = broadcast(a.shape, b.shape);
    const out = { name: this.g.node("Sub", [a.name, b.name]), shape };
    return this.#record(out, [a, b], (g) => {
      this.#accumulate(a, this.#unbroadcast(g, shape, a.shape));
      if (this.#needs.has(b.name)) this.#accumulate(b, this.#unbroadcast(this.g.node("Neg", [g]), shape, b.shape));
    });
  }

  mul(a: Var, b: Var): Var {
    const shape = broadcast(a.shape, b.shape);
    const out = { name: this.g.node("Mul", [a.name, b.name]), shape };
    return this.#record(out, [a, b], (g) => {
      if (this.#needs.has(a.name)) this.#accumulate(a, this.#unbroadcast(this.g.node("Mul", [g, b.name]), shape, a.shape));
      if (this.#needs.has(b.name)) this.#accumulate(b, this.#unbroadcast(this.g.node("Mul", [g, a.name]), shape, b.shape));
    });
  }

  div(a: Var, b: Var): Var {
    const shape = broadcast(a.shape, b.shape);
    const out = { name: this.g.node("Div", [a.name, b.name]), shape };
    return this.#record(out, [a, b], (g) => {
      if (this.#needs.has(a.name)) this.#accumulate(a, this.#unbroadcast(this.g.node("Div", [g, b.name]), shape, a.shape));
      if (this.#needs.has(b.name)) {
        // d(a/b)/db = −a/b² = −out/b
        const d = this.g.node("Neg", [this.g.node("Div", [this.g.node("Mul", [g, out.name]), b.name])]);
        this.#accumulate(b, this.#unbroadcast(d, shape, b.shape));
      }
    });
  }

  scale(a: Var, c: number): Var {
    const k = this.#scalar(c);
    const out = { name: this.g.node("Mul", [a.name, k]), shape: a.shape };
    return this.#record(out, [a], (g) => this.#accumulate(a, this.g.node("Mul", [g, k])));
  }

  addScalar(a: Var, c: number): Var {
    const out = { name: this.g.node("Add", [a.name, this.#scalar(c)]), shape: a.shape };
    return this.#record(out, [a], (g) => this.#accumulate(a, g));
  }

  /** a @ b over the last two axes; b may be 2-D (a weight shared over a's leading axes). */
  matmul(a: Var, b: Var): Var {
    const m = a.shape[a.shape.length - 2]!, k = a.shape[a.shape.length - 1]!;
    const kb = b.shape[b.shape.length - 2]!, n = b.shape[b.shape.length - 1]!;
    if (k !== kb) throw new Error(`matmul: ${JSON.stringify(a.shape)} @ ${JSON.stringify(b.shape)}`);
    const lead = broadcast(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const shape = [...lead, m, n];
    const out = { name: this.g.node("MatMul", [a.name, b.name]), shape };
    return this.#record(out, [a, b], (g) => {
      if (this.#needs.has(a.name)) {
        const da = this.g.node("MatMul", [g, this.#swapLast(b)]);
        this.#accumulate(a, this.#unbroadcast(da, [...lead, m, k], a.shape));
      }
      if (this.#needs.has(b.name)) {
        if (b.shape.length === 2 && a.shape.length > 2) {
          // A weight: flatten the leading axes, one Gemm.
          const rows = a.shape.slice(0, -1).reduce((x, y) => x * y, 1);
          const a2 = this.g.node("Reshape", [a.name, this.#ints([rows, k])]);
          const g2 = this.g.node("Reshape", [g, this.#ints([rows, n])]);
          this.#accumulate(b, this.g.node("Gemm", [a2, g2], { transA: 1 }));
        } else {
          const db = this.g.node("MatMul", [this.#swapLast(a), g]);
          this.#accumulate(b, this.#unbroadcast(db, [...lead, k, n], b.shape));
        }
      }
    });
  }

  #swapLast(v: Var): string {
    const r = v.shape.length;
    const perm = [...Array(r).keys()];
    perm[r - 2] = r - 1;
    perm[r - 1] = r - 2;
    return this.g.node("Transpose", [v.name], { perm });
  }

  transpose(a: Var, perm: number[]): Var {
    const shape = perm.map((p) => a.shape[p]!);
    const inv = perm.map((_, i) => perm.indexOf(i));
    const out = { name: this.g.node("Transpose", [a.name], { perm }), shape };
    return this.#record(out, [a], (g) => this.#accumulate(a, this.g.node("Transpose", [g], { perm: inv })));
  }

  reshape(a: Var, shape: number[]): Var {
    if (shape.reduce((x, y) => x * y, 1) !== a.shape.reduce((x, y) => x * y, 1)) throw new Error(`reshape ${JSON.stringify(a.shape)} → ${JSON.stringify(shape)}`);
    const out = { name: this.g.node("Reshape", [a.name, this.#ints(shape)]), shape };
    return this.#record(out, [a], (g) => this.#accumulate(a, this.g.node("Reshape", [g, this.#ints([...a.shape])])));
  }

  /** Softmax over the last axis. */
  softmax(a: Var): Var {
    const out = { name: this.g.node("Softmax", [a.name], { axis: -1 }), shape: a.shape };
    return this.#record(out, [a], (g) => {
      // dx = y ⊙ (g − Σ g⊙y)
      const s = this.g.node("ReduceSum", [this.g.node("Mul", [g, out.name]), this.#ints([a.shape.length - 1])], { keepdims: 1 });
      this.#accumulate(a, this.g.node("Mul", [out.name, this.g.node("Sub", [g, s])]));
    });
  }

  tanh(a: Var): Var {
    const out = { name: this.g.node("Tanh", [a.name]), shape: a.shape };
    return this.#record(out, [a], (g) => {
      const one = this.#scalar(1);
      this.#accumulate(a, this.g.node("Mul", [g, this.g.node("Sub", [one, this.g.node("Mul", [out.name, out.name])])]));
    });
  }

  sqrt(a: Var): Var {
    const out = { name: this.g.node("Sqrt", [a.name]), shape: a.shape };
    return this.#record(out, [a], (g) => this.#accumulate(a, this.g.node("Div", [g, this.g.node("Mul", [out.name, this.#scalar(2)])])));
  }

  /** Mean over the given axes, kept as size-1 axes. */
  mean(a: Var, axes: number[]): Var {
    const shape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const count = axes.reduce((x, i) => x * a.shape[i]!, 1);
    const out = { name: this.g.node("ReduceMean", [a.name], { axes, keepdims: 1 }), shape };
    return this.#record(out, [a], (g) => {
      const spread = this.g.node("Expand", [this.g.node("Mul", [g, this.#scalar(1 / count)]), this.#ints([...a.shape])]);
      this.#accumulate(a, spread);
    });
  }

  /**
   * Σ relu(|h| − R)² (a scalar): keeps a polynomial activation's input inside the range it was fitted on. Gradient
   * 2·excess(h), excess = relu(h − R) − relu(−h − R).
   */
  rangePenalty(h: Var, range: Var): Var {
    const ex = this.g.node("Sub", [this.g.node("Relu", [this.g.node("Sub", [h.name, range.name])]),
      this.g.node("Relu", [this.g.node("Sub", [this.g.node("Neg", [h.name]), range.name])])]);
    const out = { name: this.g.node("ReduceSum", [this.g.node("Mul", [ex, ex])], { keepdims: 0 }), shape: [] };
    return this.#record(out, [h], (g) => this.#accumulate(h, this.g.node("Mul", [this.g.node("Mul", [ex, this.#scalar(2)]), g])));
  }

  /**
   * Mean cross-entropy of logits [N, V] against int64 targets [N] weighted by `weight` [N] (1 = scored, 0 = padding;
   * the mean is over the weight's sum, given as `invCount` = [1/Σweight]). Also outputs `logp` [N].
   */
  softmaxCrossEntropy(logits: Var, y: Var, weight: Var, invCount: Var, logpName = "logp"): Var {
    const [N, V] = logits.shape as [number, number];
    const ls = this.g.node("LogSoftmax", [logits.name], { axis: -1 });
    const logp = this.g.node("Reshape", [this.g.node("GatherElements", [ls, this.g.node("Unsqueeze", [y.name, this.#ints([1])])], { axis: 1 }), this.#ints([N])], {}, logpName);
    const out = { name: this.g.node("Mul", [this.g.node("Neg", [this.g.node("ReduceSum", [this.g.node("Mul", [logp, weight.name])], { keepdims: 0 })]), this.g.node("Reshape", [invCount.name, this.#ints([])])]), shape: [] };
    return this.#record(out, [logits], (g) => {
      const depth = this.#ints([V]);
      // OneHot has no float64 kernel in onnxruntime: build it in float32 and cast.
      const values = this.g.floatInit(`onehot_values_${this.#const++}`, [2], [0, 1]);
      const onehot32 = this.g.node("OneHot", [y.name, depth, values], { axis: -1 });
      const onehot = this.dtype === "float32" ? onehot32 : this.g.node("Cast", [onehot32], { to: DOUBLE });
      const P = this.g.node("Exp", [ls]);
      const w = this.g.node("Mul", [this.g.node("Unsqueeze", [weight.name, this.#ints([1])]), invCount.name]);
      this.#accumulate(logits, this.g.node("Mul", [this.g.node("Mul", [this.g.node("Sub", [P, onehot]), w]), g]));
    });
  }

  /** Appends the backward pass of the scalar `loss`; returns gradient tensor names per requested Var name. */
  backward(loss: Var, wrt: readonly Var[]): Map<string, string> {
    this.#grads.set(loss.name, [this.#scalar(1)]);
    for (let i = this.#backs.length - 1; i >= 0; i--) {
      const { out, fn } = this.#backs[i]!;
      const parts = this.#grads.get(out.name);
      if (parts === undefined) continue;
      fn(parts.length === 1 ? parts[0]! : this.g.node("Sum", parts));
    }
    const result = new Map<string, string>();
    for (const v of wrt) {
      const parts = this.#grads.get(v.name);
      const g = parts === undefined ? this.g.node("Mul", [v.name, this.#scalar(0)])
        : parts.length === 1 ? parts[0]! : this.g.node("Sum", parts);
      result.set(v.name, this.g.node("Identity", [g], {}, `grad_${v.name}`));
    }
    return result;
  }

  output(v: Var | string, shape?: readonly number[]): void {
    const name = typeof v === "string" ? v : v.name;
    this.g.output(name, [...(shape ?? (typeof v === "string" ? [] : v.shape))], this.elem);
  }

  build(doc: string): Uint8Array {
    return this.g.build(doc);
  }
}

function broadcast(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast ${JSON.stringify(a)} with ${JSON.stringify(b)}`);
    out.push(Math.max(x, y));
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
