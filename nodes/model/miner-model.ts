import onnxProto from "onnx-proto";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { ModelFileError } from "./client-model.ts";

const { onnx } = onnxProto;

/** A quadratic c0 + c1·h + c2·h², the miner part's activation (fitted to tanh at training). */
export type Poly2 = readonly [number, number, number];

export class ModelShapeError extends CerberusError {
  constructor(message: string) { super("MODEL_SHAPE", message); }
}

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

/** Plaintext reference of the miner part: logits [vPad] (float64 accumulation, float32 result). */
export function minerForward(m: MinerModel, x: Float32Array): Float32Array {
  if (x.length !== m.input) throw new ModelFileError("BAD_INPUT", `x has ${x.length} values, expected ${m.input}`);
  const a = new Float64Array(m.hidden);
  for (let j = 0; j < m.hidden; j++) {
    let h = m.b1[j];
    for (let k = 0; k < m.input; k++) h += x[k] * m.W1[k * m.hidden + j];
    a[j] = m.c[0] + m.c[1] * h + m.c[2] * h * h;
  }
  const out = new Float64Array(m.b2);
  for (let j = 0; j < m.hidden; j++) {
    const aj = a[j], row = j * m.vPad;
    for (let o = 0; o < m.vPad; o++) out[o] += aj * m.W2[row + o];
  }
  return Float32Array.from(out);
}
