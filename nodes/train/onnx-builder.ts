import onnxProto from "onnx-proto";

/**
 * A tiny graph builder over onnx-proto's generated classes. It exists so the training step, the evaluation pass
 * and the exported miner model are all written the same way (names, opset, float32 tensors) without repeating
 * protobuf boilerplate. Opset 17, IR version 8.
 */
export const { onnx } = onnxProto;
export const OPSET = 17;

type Dim = number | string;
type AttrValue = number | number[] | { ints: number[] } | { float: number };

export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  constructor(private readonly name: string) {}

  input(name: string, dims: Dim[], elemType: number = onnx.TensorProto.DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  output(name: string, dims: Dim[], elemType: number = onnx.TensorProto.DataType.FLOAT): string {
    this.outputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  /** A float32 initializer (raw little-endian bytes; no external data). */
  floatInit(name: string, dims: number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw }));
    return name;
  }

  /** A float64 initializer (the autodiff's finite-difference tests run in double). */
  doubleInit(name: string, dims: number[], values: ArrayLike<number>): string {
    const data = Float64Array.from(values);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.DOUBLE, rawData: new Uint8Array(data.buffer) }));
    return name;
  }

  int64Init(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    const raw = new Uint8Array(data.buffer);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: raw }));
    return name;
  }

  /** Adds a node; returns the name of its (first) output. `out` names the output explicitly. */
  node(op: string, ins: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    const output = out ?? `${op.toLowerCase()}_${this.counter++}`;
    const attribute = Object.entries(attrs).map(([name, v]) => {
      if (typeof v === "number") return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
      if ("float" in v) return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.float });
      return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v.ints });
    });
    this.nodes.push(onnx.NodeProto.create({ opType: op, input: ins, output: [output], name: output, attribute }));
    return output;
  }

  build(docString = ""): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8, producerName: "cerberus", producerVersion: "0.1.0", docString,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: OPSET })], graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, dims: Dim[], elemType: number): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => typeof d === "number"
            ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
            : onnx.TensorShapeProto.Dimension.create({ dimParam: d })),
        }),
      }),
    }),
  });
}
