import { z } from "zod";
import { GraphBuilder, onnx } from "./onnx-builder.ts";
import { inputSize, ModelShapeError, type MlpParams } from "./mlp.ts";
import type { Poly2 } from "./poly.ts";

/**
 * The miner part of the LM: logits = W2ᵀ·p(W1ᵀ·x + b1) + b2 with outputs padded to vPad (zero rows/cols beyond the
 * real vocabulary). Weights in ONNX MatMul layout: W1 [input, hidden], W2 [hidden, vPad].
 */
export interface MinerModel {
  readonly input: number;
  readonly hidden: number;
  readonly vocab: number;
  readonly vPad: number;
  readonly c: Poly2;
  readonly W1: Float32Array;
  readonly b1: Float32Array;
  readonly W2: Float32Array;
  readonly b2: Float32Array;
}

/** Next multiple of 4096 (one CKKS ciphertext of 4,096 slots per 4,096 logits). */
export function paddedVocab(vocab: number, multiple = 4096): number {
  return Math.ceil(vocab / multiple) * multiple;
}

/** Pads W2/b2 to vPad outputs with zeros. */
export function toMinerModel(p: MlpParams, c: Poly2, vPad = paddedVocab(p.shape.vocab)): MinerModel {
  const { vocab: V, hidden: H } = p.shape;
  if (vPad < V) throw new ModelShapeError(`vPad ${vPad} < vocab ${V}`);
  const W2 = new Float32Array(H * vPad);
  for (let k = 0; k < H; k++) W2.set(p.W2.subarray(k * V, k * V + V), k * vPad);
  const b2 = new Float32Array(vPad);
  b2.set(p.b2);
  return { input: inputSize(p.shape), hidden: H, vocab: V, vPad, c, W1: p.W1.slice(), b1: p.b1.slice(), W2, b2 };
}

/** ONNX bytes exactly in the agreed layout (interfaces.md): input `x` [1, input], output `logits` [1, vPad]. */
export function exportMinerOnnx(m: MinerModel): Uint8Array {
  const g = new GraphBuilder("cerberus_brown_lm_miner");
  g.input("x", [1, m.input]);
  g.floatInit("W1", [m.input, m.hidden], m.W1);
  g.floatInit("b1", [m.hidden], m.b1);
  g.floatInit("c0", [], [m.c[0]]);
  g.floatInit("c1", [], [m.c[1]]);
  g.floatInit("c2", [], [m.c[2]]);
  g.floatInit("W2", [m.hidden, m.vPad], m.W2);
  g.floatInit("b2", [m.vPad], m.b2);
  const h = g.node("Add", [g.node("MatMul", ["x", "W1"], {}, "xW1"), "b1"], {}, "h");
  const hh = g.node("Mul", [h, h], {}, "hh");
  const p = g.node("Add", [g.node("Add", [g.node("Mul", [hh, "c2"], {}, "c2hh"), g.node("Mul", [h, "c1"], {}, "c1h")], {}, "quad_lin"), "c0"], {}, "p");
  g.node("Add", [g.node("MatMul", [p, "W2"], {}, "pW2"), "b2"], {}, "logits");
  g.output("logits", [1, m.vPad]);
  return g.build(`Cerberus Brown LM miner part: h = x·W1 + b1; p = c2·h² + c1·h + c0; logits = p·W2 + b2 (vocab ${m.vocab}, padded ${m.vPad})`);
}

const Dims = z.array(z.number().int().nonnegative());

/** Parses miner ONNX bytes back into weights (validating names and shapes). */
export function parseMinerOnnx(bytes: Uint8Array, vocab: number): MinerModel {
  let model: InstanceType<typeof onnx.ModelProto>;
  try { model = onnx.ModelProto.decode(bytes); } catch (e) { throw new ModelShapeError(`not an ONNX model: ${(e as Error).message}`); }
  const inits = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    const dims = Dims.parse((t.dims ?? []).map(Number));
    const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
    const data = raw ? new Float32Array(new Uint8Array(raw).buffer) : Float32Array.from(t.floatData ?? []);
    inits.set(t.name ?? "", { dims, data });
  }
  const get = (name: string, dims: number) => {
    const t = inits.get(name);
    if (!t || t.dims.length !== dims) throw new ModelShapeError(`initializer ${name} missing or of rank ≠ ${dims}`);
    return t;
  };
  const W1 = get("W1", 2), W2 = get("W2", 2);
  const [input, hidden] = W1.dims;
  const vPad = W2.dims[1];
  if (W2.dims[0] !== hidden || vPad < vocab) throw new ModelShapeError(`W2 shape ${W2.dims} does not fit hidden ${hidden}, vocab ${vocab}`);
  const c: Poly2 = [get("c0", 0).data[0], get("c1", 0).data[0], get("c2", 0).data[0]];
  return { input, hidden, vocab, vPad, c, W1: W1.data, b1: get("b1", 1).data, W2: W2.data, b2: get("b2", 1).data };
}
