import onnxProto from "onnx-proto";
import { InvalidModelError, UnsupportedOpError } from "./errors.ts";

import type { onnx as O } from "onnx-proto";
const { onnx } = onnxProto;
export { onnx };

/** A constant tensor read from an initializer or a Constant node (float data widened to float64). */
export interface ConstTensor { readonly dims: number[]; readonly data: Float64Array }

export interface ParsedNode {
  readonly op: string;
  readonly name: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attrs: ReadonlyMap<string, O.IAttributeProto>;
}

export interface ParsedGraph {
  readonly input: { name: string; size: number };
  readonly output: string;
  readonly initializers: ReadonlyMap<string, ConstTensor>;
  readonly nodes: readonly ParsedNode[];
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

export function tensorData(t: O.ITensorProto): ConstTensor {
  const dims = (t.dims ?? []).map(num);
  const count = dims.reduce((a, b) => a * b, 1);
  // Copy: protobufjs hands out Node Buffers that are views into a shared pool (Buffer#slice does not copy).
  const raw = t.rawData && t.rawData.length > 0 ? new Uint8Array(t.rawData) : undefined;
  let data: Float64Array;
  switch (t.dataType) {
    case onnx.TensorProto.DataType.FLOAT:
      data = raw
        ? Float64Array.from(new Float32Array(raw.buffer, 0, raw.length / 4))
        : Float64Array.from(t.floatData ?? []);
      break;
    case onnx.TensorProto.DataType.DOUBLE:
      data = raw ? new Float64Array(raw.buffer, 0, raw.length / 8) : Float64Array.from(t.doubleData ?? []);
      break;
    case onnx.TensorProto.DataType.INT64:
      data = raw
        ? Float64Array.from(new BigInt64Array(raw.buffer, 0, raw.length / 8), (v) => Number(v))
        : Float64Array.from((t.int64Data ?? []).map(num));
      break;
    default:
      throw new InvalidModelError(`tensor ${t.name ?? "?"} has data type ${t.dataType}; only float32/float64/int64`);
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new InvalidModelError(`tensor ${t.name ?? "?"} uses external data; initializers must be inline`);
  }
  if (data.length !== count) {
    throw new InvalidModelError(`tensor ${t.name ?? "?"} has ${data.length} values for dims [${dims}]`);
  }
  return { dims, data };
}

/** Decodes ONNX bytes (protobuf) into the single-input, single-output graph the compiler works on. */
export function parseOnnx(bytes: Uint8Array): ParsedGraph {
  let model: O.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InvalidModelError(`not an ONNX model: ${(err as Error).message}`, { cause: err });
  }
  const graph = model.graph;
  if (!graph) throw new InvalidModelError("ONNX model has no graph");
  const initializers = new Map<string, ConstTensor>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? "", tensorData(t));
  if ((graph.sparseInitializer ?? []).length > 0) throw new UnsupportedOpError("SparseInitializer", "not supported");
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ""));
  if (inputs.length !== 1) throw new InvalidModelError(`model must have exactly one input, has ${inputs.length}`);
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw new InvalidModelError(`model must have exactly one output, has ${outputs.length}`);
  const dims = inputs[0].type?.tensorType?.shape?.dim ?? [];
  // Symbolic dims (dim_param, e.g. a batch axis) count as 1: the engine evaluates one vector per ciphertext.
  const size = dims.reduce((acc, d) => acc * (d.dimValue !== undefined && d.dimValue !== null && num(d.dimValue) > 0
    ? num(d.dimValue) : 1), 1);
  if (dims.length === 0 || size < 1) throw new InvalidModelError("model input needs a static vector shape");
  const nodes: ParsedNode[] = (graph.node ?? []).map((n, i) => ({
    op: n.opType ?? "",
    name: n.name || `node${i}`,
    inputs: (n.input ?? []).slice(),
    outputs: (n.output ?? []).slice(),
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? "", a] as const)),
  }));
  return { input: { name: inputs[0].name ?? "", size }, output: outputs[0].name ?? "", initializers, nodes };
}

export function attrNumber(node: ParsedNode, name: string, dflt: number): number {
  const a = node.attrs.get(name);
  if (!a) return dflt;
  if (a.type === onnx.AttributeProto.AttributeType.FLOAT) return a.f ?? dflt;
  if (a.type === onnx.AttributeProto.AttributeType.INT) return num(a.i ?? dflt);
  return dflt;
}

/** A graph with several inputs and outputs and its metadata (the round compiler's view; graph-compiler.ts). */
export interface ParsedMultiGraph {
  readonly inputs: readonly { name: string; dims: number[] }[];
  readonly outputs: readonly string[];
  readonly metadata: ReadonlyMap<string, string>;
  readonly initializers: ReadonlyMap<string, ConstTensor>;
  readonly nodes: readonly ParsedNode[];
}

export function parseOnnxMulti(bytes: Uint8Array): ParsedMultiGraph {
  let model: O.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InvalidModelError(`not an ONNX model: ${(err as Error).message}`, { cause: err });
  }
  const graph = model.graph;
  if (!graph) throw new InvalidModelError("ONNX model has no graph");
  const initializers = new Map<string, ConstTensor>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? "", tensorData(t));
  if ((graph.sparseInitializer ?? []).length > 0) throw new UnsupportedOpError("SparseInitializer", "not supported");
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? "")).map((i) => {
    const dims = (i.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? num(d.dimValue) : 0));
    if (dims.length === 0 || dims.some((d) => !(d > 0))) throw new InvalidModelError(`input ${i.name}: needs a static shape`);
    return { name: i.name ?? "", dims };
  });
  const nodes: ParsedNode[] = (graph.node ?? []).map((n, i) => ({
    op: n.opType ?? "",
    name: n.name || `node${i}`,
    inputs: (n.input ?? []).slice(),
    outputs: (n.output ?? []).slice(),
    attrs: new Map((n.attribute ?? []).map((a) => [a.name ?? "", a] as const)),
  }));
  const metadata = new Map((model.metadataProps ?? []).map((e) => [e.key ?? "", e.value ?? ""] as const));
  return { inputs, outputs: (graph.output ?? []).map((o) => o.name ?? ""), metadata, initializers, nodes };
}

/** Attribute `name` as an int list (e.g. Transpose's perm), or undefined. */
export function attrInts(node: ParsedNode, name: string): number[] | undefined {
  const a = node.attrs.get(name);
  return a?.ints ? a.ints.map(num) : undefined;
}
