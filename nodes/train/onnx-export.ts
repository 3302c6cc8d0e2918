import { GraphBuilder } from "./onnx-builder.ts";
import { inputSize, type MlpParams } from "./mlp.ts";
import { ModelShapeError, paddedVocab, type MinerModel, type Poly2 } from "../model/miner-model.ts";

/** Writing the miner part of the LM (its layout and parser are in nodes/model/miner-model.ts). */

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
