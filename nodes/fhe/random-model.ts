import { createRng } from "../core/prng.ts";
import onnxProto from "onnx-proto";
import type { onnx as O } from "onnx-proto";
import { pruneDiagonals } from "./diagonals.ts";

const { onnx } = onnxProto;

/**
 * Random MLPs in the Brown LM's ONNX layout (interfaces.md), built in memory with onnx-proto, for tests and
 * benchmarks: h = Add(MatMul(x, W1), b1); p = Add(Add(Mul(Mul(h,h), c2), Mul(h, c1)), c0); … ; y = Add(MatMul(p, Wk), bk).
 * Weights are stored in × out as ONNX MatMul expects.
 */
export interface RandomMlpOptions {
  /** Layer widths [in, hidden…, out]. */
  readonly dims: readonly number[];
  readonly seed?: number;
  /** Activation p(h) = c0 + c1·h + c2·h² between linear layers; null = no activation (a pure linear chain). */
  readonly poly?: { c0: number; c1: number; c2: number } | null;
  /** Squeeze rate: zero this fraction of each matrix's generalized diagonals (smallest L2 norm). */
  readonly pruneRate?: number;
  /** Slot count the pruning layout assumes (4096 for N = 8192). */
  readonly slots?: number;
  /** Rows of the last layer ≥ this are zero (padding, like the LM's V_pad). */
  readonly zeroRowsFrom?: number;
}

/** Uniform [0, 1) source from a seed (the project's one seeded PRNG, nodes/core/prng.ts). */
export function mulberry32(seed: number): () => number {
  return createRng(seed).next;
}

function tensor(name: string, dims: number[], data: Float32Array): O.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) };
}
function valueInfo(name: string, dims: number[]): O.IValueInfoProto {
  return { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT,
    shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

export interface RandomMlp { readonly bytes: Uint8Array; readonly weights: Float32Array[] }

export function randomMlp(opts: RandomMlpOptions): RandomMlp {
  const rnd = mulberry32(opts.seed ?? 1);
  const poly = opts.poly === undefined ? { c0: 0.1, c1: 0.5, c2: 0.25 } : opts.poly;
  const nodes: O.INodeProto[] = [];
  const inits: O.ITensorProto[] = [];
  const weights: Float32Array[] = [];
  let cur = "x";
  const L = opts.dims.length - 1;
  for (let k = 0; k < L; k++) {
    const inD = opts.dims[k];
    const outD = opts.dims[k + 1];
    const W = new Float32Array(inD * outD);
    const bound = Math.sqrt(3 / inD);
    for (let i = 0; i < W.length; i++) W[i] = (rnd() * 2 - 1) * bound;
    const b = new Float32Array(outD);
    for (let i = 0; i < outD; i++) b[i] = (rnd() * 2 - 1) * 0.1;
    if (k === L - 1 && opts.zeroRowsFrom !== undefined) {
      for (let o = opts.zeroRowsFrom; o < outD; o++) { b[o] = 0; for (let i = 0; i < inD; i++) W[i * outD + o] = 0; }
    }
    if (opts.pruneRate) pruneDiagonals(W, inD, outD, opts.slots ?? 4096, opts.pruneRate);
    weights.push(W);
    inits.push(tensor(`W${k + 1}`, [inD, outD], W), tensor(`b${k + 1}`, [outD], b));
    const isLast = k === L - 1;
    const mm = `mm${k + 1}`;
    const h = isLast ? "logits" : `h${k + 1}`;
    nodes.push({ opType: "MatMul", input: [cur, `W${k + 1}`], output: [mm], name: `matmul${k + 1}` });
    nodes.push({ opType: "Add", input: [mm, `b${k + 1}`], output: [h], name: `bias${k + 1}` });
    cur = h;
    if (!isLast && poly) {
      const c = (n: string, v: number) => inits.push(tensor(`${n}_${k}`, [], Float32Array.of(v)));
      c("c0", poly.c0); c("c1", poly.c1); c("c2", poly.c2);
      nodes.push({ opType: "Mul", input: [h, h], output: [`sq${k}`], name: `square${k}` });
      nodes.push({ opType: "Mul", input: [`sq${k}`, `c2_${k}`], output: [`t2_${k}`], name: `mulc2_${k}` });
      nodes.push({ opType: "Mul", input: [h, `c1_${k}`], output: [`t1_${k}`], name: `mulc1_${k}` });
      nodes.push({ opType: "Add", input: [`t2_${k}`, `t1_${k}`], output: [`s_${k}`], name: `add12_${k}` });
      nodes.push({ opType: "Add", input: [`s_${k}`, `c0_${k}`], output: [`p${k}`], name: `addc0_${k}` });
      cur = `p${k}`;
    }
  }
  return { bytes: encodeModel(nodes, inits, opts.dims[0], opts.dims[L]), weights };
}

export function encodeModel(nodes: O.INodeProto[], inits: O.ITensorProto[], inDim: number, outDim: number,
  inputName = "x", outputName = "logits"): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "cerberus-fhe-tests",
    graph: {
      name: "mlp",
      node: nodes,
      initializer: inits,
      input: [valueInfo(inputName, [1, inDim])],
      output: [valueInfo(outputName, [1, outDim])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
