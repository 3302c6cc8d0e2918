import { InvalidModelError, UnsupportedOpError } from "./errors.ts";
import { attrNumber, parseOnnx, tensorData, type ConstTensor, type ParsedNode } from "./onnx.ts";

/**
 * Circuit squeeze, part 1: ONNX graph → a chain of CKKS-friendly stages on one encrypted vector.
 *
 * Every encrypted value is tracked symbolically as an element-wise polynomial a0 + a1·s + a2·s² of the last
 * materialized stage s. Adds and multiplications by constants only edit the coefficients (free under FHE). A value
 * is materialized when a MatMul/Gemm consumes it (or at the output):
 *  - degree 1: the affine (a1, a0) is folded into the consuming matrix (M·diag(a1), bias M·a0) — no level, no op;
 *  - degree 2: complete the square, a2·(s + a1/2a2)² + (a0 − a1²/4a2): the shift goes into the bias of the linear
 *    stage that produced s, a Square stage is emitted (the only ct×ct multiply), and (a2, const) fold into the next
 *    matrix. This is how the Brown LM's p(h) = c0 + c1·h + c2·h² costs exactly one level.
 */
export interface LinearStage {
  readonly kind: "linear";
  readonly inDim: number;
  readonly outDim: number;
  /** Row-major out × in (the y = M·x orientation; ONNX MatMul stores Mᵀ). */
  readonly M: Float64Array;
  readonly bias: Float64Array;
}
export interface SquareStage {
  readonly kind: "square";
  readonly dim: number;
  /** Added before squaring when there is no linear stage to fold it into (i.e. squaring the raw input). */
  readonly shift: Float64Array | null;
}
export interface AffineStage {
  readonly kind: "affine";
  readonly dim: number;
  /** Element-wise multiplier (costs one level) or null. */
  readonly scale: Float64Array | null;
  readonly shift: Float64Array | null;
}
export type Stage = LinearStage | SquareStage | AffineStage;

export interface StageGraph {
  readonly inputDim: number;
  readonly outputDim: number;
  readonly stages: readonly Stage[];
}

export function stageLevels(s: Stage): number {
  return s.kind === "affine" ? (s.scale ? 1 : 0) : 1;
}
export function graphLevels(g: StageGraph): number {
  return g.stages.reduce((a, s) => a + stageLevels(s), 0);
}

interface ConstVal { kind: "const"; t: ConstTensor }
interface EncVal { kind: "enc"; base: number; dim: number; c: Float64Array[] }
type Val = ConstVal | EncVal;

const INPUT = -1;
const TRIVIAL_OPS = new Set(["Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Dropout"]);

interface MutableLinear { kind: "linear"; inDim: number; outDim: number; M: Float64Array; bias: Float64Array }

export function compileOnnx(bytes: Uint8Array): StageGraph {
  const g = parseOnnx(bytes);
  const stages: Stage[] = [];
  const consumed = new Set<number>();
  const vals = new Map<string, Val>();
  for (const [name, t] of g.initializers) vals.set(name, { kind: "const", t });
  const inputDim = g.input.size;
  vals.set(g.input.name, { kind: "enc", base: INPUT, dim: inputDim, c: [zeros(inputDim), ones(inputDim)] });

  const get = (node: ParsedNode, i: number): Val => {
    const name = node.inputs[i];
    const v = name === undefined ? undefined : vals.get(name);
    if (!v) throw new InvalidModelError(`${node.op} ${node.name}: input ${i} (${name ?? "missing"}) is not defined`);
    return v;
  };
  const dimOf = (base: number): number => (base === INPUT ? inputDim : stageDim(stages[base]));

  /** Turns an encrypted polynomial into (stage, affine to fold into its consumer). */
  const materialize = (v: EncVal, op: string): { stage: number; scale: Float64Array; shift: Float64Array } => {
    const deg = degree(v);
    if (deg === 0) throw new InvalidModelError(`${op}: its encrypted input has become a constant`);
    if (consumed.has(v.base)) {
      throw new UnsupportedOpError(op, "a stage is used by two consumers (branching/residual graphs are not supported)");
    }
    consumed.add(v.base);
    if (deg === 1) return { stage: v.base, scale: v.c[1], shift: v.c[0] };
    const [a0, a1, a2] = v.c;
    if (a2.some((x) => x === 0)) {
      throw new UnsupportedOpError("Mul", "a quadratic whose square coefficient is zero for some elements only");
    }
    const shift = a1.map((x, i) => x / (2 * a2[i]));
    const constant = a0.map((x, i) => x - (a1[i] * a1[i]) / (4 * a2[i]));
    const baseStage = v.base === INPUT ? undefined : stages[v.base];
    let explicitShift: Float64Array | null = shift;
    if (baseStage?.kind === "linear") {
      const lin = baseStage as MutableLinear;
      for (let i = 0; i < lin.outDim; i++) lin.bias[i] += shift[i];
      explicitShift = null;
    } else if (shift.every((x) => x === 0)) {
      explicitShift = null;
    }
    stages.push({ kind: "square", dim: v.dim, shift: explicitShift });
    return { stage: stages.length - 1, scale: a2, shift: constant };
  };

  for (const node of g.nodes) {
    const out = node.outputs[0];
    if (node.outputs.length < 1 || !out) throw new InvalidModelError(`${node.op} ${node.name} has no output`);
    const result = ((): Val => {
      switch (node.op) {
        case "Constant": {
          const a = node.attrs.get("value");
          if (!a?.t) throw new UnsupportedOpError("Constant", "only the tensor `value` form");
          return { kind: "const", t: tensorData(a.t) };
        }
        case "MatMul":
        case "Gemm": {
          const a = get(node, 0);
          const b = get(node, 1);
          if (a.kind !== "enc" || b.kind !== "const") {
            throw new UnsupportedOpError(node.op, "only encrypted-vector × constant-weight products");
          }
          const transB = node.op === "Gemm" ? attrNumber(node, "transB", 0) : 0;
          if (node.op === "Gemm" && attrNumber(node, "transA", 0) !== 0) throw new UnsupportedOpError("Gemm", "transA=1");
          const alpha = node.op === "Gemm" ? attrNumber(node, "alpha", 1) : 1;
          if (b.t.dims.length !== 2) throw new InvalidModelError(`${node.op} ${node.name}: weight must be 2-D`);
          const [r, c] = b.t.dims;
          const inDim = transB ? c : r;
          const outDim = transB ? r : c;
          if (inDim !== a.dim) {
            throw new InvalidModelError(`${node.op} ${node.name}: weight expects ${inDim} inputs, vector has ${a.dim}`);
          }
          const pre = materialize(a, node.op);
          const M = new Float64Array(outDim * inDim);
          const bias = new Float64Array(outDim);
          for (let o = 0; o < outDim; o++) {
            let acc = 0;
            for (let i = 0; i < inDim; i++) {
              const w = alpha * (transB ? b.t.data[o * c + i] : b.t.data[i * c + o]);
              M[o * inDim + i] = w * pre.scale[i];
              acc += w * pre.shift[i];
            }
            bias[o] = acc;
          }
          if (dimOf(pre.stage) !== inDim) throw new Error("internal: stage dim mismatch");
          stages.push({ kind: "linear", inDim, outDim, M, bias });
          const v: EncVal = { kind: "enc", base: stages.length - 1, dim: outDim, c: [zeros(outDim), ones(outDim)] };
          if (node.op === "Gemm" && node.inputs[2]) {
            const cval = get(node, 2);
            if (cval.kind !== "const") throw new UnsupportedOpError("Gemm", "bias C must be a constant");
            const beta = attrNumber(node, "beta", 1);
            return addConst(v, broadcast(cval.t, outDim, node).map((x) => beta * x));
          }
          return v;
        }
        case "Add":
        case "Sub": {
          const a = get(node, 0);
          const b = get(node, 1);
          const sign = node.op === "Sub" ? -1 : 1;
          if (a.kind === "const" && b.kind === "const") return constBinary(a.t, b.t, (x, y) => x + sign * y, node);
          if (a.kind === "enc" && b.kind === "const") return addConst(a, broadcast(b.t, a.dim, node).map((x) => sign * x));
          if (a.kind === "const" && b.kind === "enc") {
            const neg = sign < 0 ? scaleEnc(b, fill(b.dim, -1)) : b;
            return addConst(neg, broadcast(a.t, b.dim, node));
          }
          return addEnc(a as EncVal, b as EncVal, sign, node);
        }
        case "Mul": {
          const a = get(node, 0);
          const b = get(node, 1);
          if (a.kind === "const" && b.kind === "const") return constBinary(a.t, b.t, (x, y) => x * y, node);
          if (a.kind === "enc" && b.kind === "const") return scaleEnc(a, broadcast(b.t, a.dim, node));
          if (a.kind === "const" && b.kind === "enc") return scaleEnc(b, broadcast(a.t, b.dim, node));
          let x = a as EncVal;
          let y = b as EncVal;
          if (x.base !== y.base) throw new UnsupportedOpError("Mul", "product of values from different layers");
          if (degree(x) + degree(y) > 2) {
            // Squaring a quadratic (h²)² is fine with one more level: materialize it first. Other products of
            // total degree > 2 (e.g. h²·h) would need a ciphertext level-aligned multiply tree; not supported.
            if (node.inputs[0] !== node.inputs[1] || degree(x) !== 2) {
              throw new UnsupportedOpError("Mul", "products of total degree > 2 other than squaring a square");
            }
            const pre = materialize(x, "Mul");
            x = { kind: "enc", base: pre.stage, dim: x.dim, c: [pre.shift, pre.scale] };
            y = x;
          }
          return mulEnc(x, y);
        }
        default:
          if (TRIVIAL_OPS.has(node.op)) {
            const a = get(node, 0);
            if (a.kind === "enc" && node.op === "Reshape" && node.inputs[1]) {
              const shape = get(node, 1);
              if (shape.kind !== "const") throw new UnsupportedOpError("Reshape", "shape must be a constant");
              const dims = Array.from(shape.t.data);
              const known = dims.filter((d) => d > 0).reduce((p, d) => p * d, 1);
              if (!dims.includes(-1) && !dims.includes(0) && known !== a.dim) {
                throw new InvalidModelError(`Reshape ${node.name}: shape [${dims}] does not hold ${a.dim} values`);
              }
            }
            if (a.kind === "const") throw new UnsupportedOpError(node.op, "on constants (fold it offline)");
            return a;
          }
          throw new UnsupportedOpError(node.op || "(empty)", `node ${node.name} — supported: MatMul, Gemm, Add, Sub, ` +
            `Mul, Constant, ${[...TRIVIAL_OPS].join(", ")}`);
      }
    })();
    vals.set(out, result);
  }

  const outVal = vals.get(g.output);
  if (!outVal || outVal.kind !== "enc") throw new InvalidModelError(`output ${g.output} is not computed from the input`);
  finishOutput(outVal, stages, consumed, materialize);
  if (!stages.some((s) => s.kind === "linear" || s.kind === "square" || s.scale || s.shift)) {
    throw new InvalidModelError("model computes nothing on its input");
  }
  return { inputDim, outputDim: outVal.dim, stages };
}

function finishOutput(v: EncVal, stages: Stage[], consumed: Set<number>,
  materialize: (v: EncVal, op: string) => { stage: number; scale: Float64Array; shift: Float64Array }): void {
  const deg = degree(v);
  if (deg === 1 && v.base !== INPUT && stages[v.base].kind === "linear" && !consumed.has(v.base)) {
    // Fold the trailing affine into the rows of the last matrix: free.
    const lin = stages[v.base] as MutableLinear;
    const [a0, a1] = v.c;
    for (let o = 0; o < lin.outDim; o++) {
      for (let i = 0; i < lin.inDim; i++) lin.M[o * lin.inDim + i] *= a1[o];
      lin.bias[o] = a1[o] * lin.bias[o] + a0[o];
    }
    consumed.add(v.base);
    return;
  }
  const pre = materialize(v, "output");
  const scale = pre.scale.every((x) => x === 1) ? null : pre.scale;
  const shift = pre.shift.every((x) => x === 0) ? null : pre.shift;
  if (scale || shift) stages.push({ kind: "affine", dim: v.dim, scale, shift });
}

function stageDim(s: Stage): number { return s.kind === "linear" ? s.outDim : s.dim; }
function zeros(n: number): Float64Array { return new Float64Array(n); }
function ones(n: number): Float64Array { return new Float64Array(n).fill(1); }
function fill(n: number, x: number): Float64Array { return new Float64Array(n).fill(x); }

function degree(v: EncVal): number {
  for (let k = v.c.length - 1; k > 0; k--) if (v.c[k].some((x) => x !== 0)) return k;
  return 0;
}
function broadcast(t: ConstTensor, n: number, node: ParsedNode): Float64Array {
  if (t.data.length === 1) return fill(n, t.data[0]);
  if (t.data.length === n) return Float64Array.from(t.data);
  throw new InvalidModelError(`${node.op} ${node.name}: constant of ${t.data.length} values vs vector of ${n}`);
}
function constBinary(a: ConstTensor, b: ConstTensor, f: (x: number, y: number) => number, node: ParsedNode): ConstVal {
  if (a.data.length === b.data.length) return { kind: "const", t: { dims: a.dims, data: a.data.map((x, i) => f(x, b.data[i])) } };
  if (b.data.length === 1) return { kind: "const", t: { dims: a.dims, data: a.data.map((x) => f(x, b.data[0])) } };
  if (a.data.length === 1) return { kind: "const", t: { dims: b.dims, data: b.data.map((y) => f(a.data[0], y)) } };
  throw new UnsupportedOpError(node.op, `constant broadcasting of [${a.dims}] with [${b.dims}]`);
}
function addConst(v: EncVal, k: Float64Array): EncVal {
  const c = v.c.map((x) => Float64Array.from(x));
  for (let i = 0; i < v.dim; i++) c[0][i] += k[i];
  return { ...v, c };
}
function scaleEnc(v: EncVal, k: Float64Array): EncVal {
  return { ...v, c: v.c.map((x) => x.map((y, i) => y * k[i])) };
}
function addEnc(a: EncVal, b: EncVal, sign: number, node: ParsedNode): EncVal {
  if (a.base !== b.base || a.dim !== b.dim) throw new UnsupportedOpError(node.op, "sum of values from different layers");
  const n = Math.max(a.c.length, b.c.length);
  const c: Float64Array[] = [];
  for (let k = 0; k < n; k++) {
    const x = a.c[k] ?? zeros(a.dim);
    const y = b.c[k] ?? zeros(a.dim);
    c.push(x.map((v, i) => v + sign * y[i]));
  }
  return { ...a, c };
}
function mulEnc(a: EncVal, b: EncVal): EncVal {
  const c: Float64Array[] = [zeros(a.dim), zeros(a.dim), zeros(a.dim)];
  for (let i = 0; i < a.c.length; i++) {
    for (let j = 0; j < b.c.length; j++) {
      if (i + j > 2) {
        if (a.c[i].some((x) => x !== 0) && b.c[j].some((x) => x !== 0)) throw new Error("internal: degree > 2");
        continue;
      }
      for (let e = 0; e < a.dim; e++) c[i + j][e] += a.c[i][e] * b.c[j][e];
    }
  }
  return { ...a, c };
}
