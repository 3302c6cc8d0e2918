import { writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { sha256Hex } from "../core/sha256.ts";
import { paddedVocab } from "../model/miner-model.ts";
import { TX_CLIENT_FORMAT, TX_TENSOR_LAYOUT, type TransformerClientHeader } from "../model/transformer-client.ts";
import { onnx } from "./onnx-builder.ts";
import { GraphBuilder } from "./onnx-builder.ts";
import { modelWidth, tensor, type TransformerParams } from "./transformer.ts";

/** The transformer miner part's graph contract, read by the FHE compiler from the ONNX metadata. */
export const TX_GRAPH = { kind: "cerberus.graph", cache: "cerberus.cache", query: "cerberus.query", client: "cerberus.client", result: "cerberus.result" } as const;

/**
 * The miner part of an FHE-form transformer as ONNX (opset 17), with the algebra the circuit wants already done
 * (these are the same functions, regrouped):
 *   inputs  x [W, d] (the window's rows, oldest first, empty rows zero), xq [1, d] (the newest row), sbias [1, W]
 *           (the client's score bias: rel[k − j], −30000 on empty rows)
 *   scores = (xq·A)·xᵀ                                 output, [1, W] (the first round's result)
 *   a      = Softmax(scores + sbias)                   client
 *   u      = a·x
 *   h      = xq·W1 + u·(Wov·W1) + (bo·W1 + b1)          (= N-free FFN input of y = xq + u·Wov + bo, one level sooner)
 *   p      = c2·h² + c1·h + c0
 *   z      = xq + u·Wov + bo + p·W2 + b2
 *   logits = z·U + bU                                  output, [1, vPad] (padded vocabulary, zero columns)
 * Metadata names the cached input (`x`: rows the miner keeps between words), the query row (`xq`, appended to the
 * cache each word) and the client's input (`sbias`).
 */
export function exportTransformerOnnx(p: TransformerParams, vPad = paddedVocab(p.shape.vocab)): Uint8Array {
  if (p.form !== "fhe") throw new Error("only the FHE form is exported for miners");
  const d = modelWidth(p.shape), W = p.shape.window, F = p.shape.ff, V = p.shape.vocab;
  const mm = (a: Float32Array, b: Float32Array, n: number, k: number, m: number) => {
    const out = new Float32Array(n * m);
    for (let i = 0; i < n; i++) for (let q = 0; q < k; q++) {
      const av = a[i * k + q]!;
      if (av === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] = out[i * m + j]! + av * b[q * m + j]!;
    }
    return out;
  };
  const Wov = tensor(p, "Wov"), W1 = tensor(p, "W1"), bo = tensor(p, "bo"), b1 = tensor(p, "b1");
  const WovW1 = mm(Wov, W1, d, d, F);
  const b1f = mm(bo, W1, 1, d, F).map((v, j) => v + b1[j]!);
  const U = new Float32Array(d * vPad), bU = new Float32Array(vPad);
  const Usrc = tensor(p, "U");
  for (let i = 0; i < d; i++) U.set(Usrc.subarray(i * V, i * V + V), i * vPad);
  bU.set(tensor(p, "bU"));
  const c = tensor(p, "c");
  const g = new GraphBuilder("cerberus_brown_transformer_miner");
  g.input("x", [W, d]);
  g.input("xq", [1, d]);
  g.input("sbias", [1, W]);
  g.floatInit("A", [d, d], tensor(p, "A"));
  g.floatInit("W1", [d, F], W1);
  g.floatInit("WovW1", [d, F], WovW1);
  g.floatInit("b1f", [F], b1f);
  g.floatInit("Wov", [d, d], Wov);
  g.floatInit("bo", [d], bo);
  g.floatInit("c0", [], [c[0]!]);
  g.floatInit("c1", [], [c[1]!]);
  g.floatInit("c2", [], [c[2]!]);
  g.floatInit("W2", [F, d], tensor(p, "W2"));
  g.floatInit("b2", [d], tensor(p, "b2"));
  g.floatInit("U", [d, vPad], U);
  g.floatInit("bU", [vPad], bU);
  const qk = g.node("MatMul", ["xq", "A"], {}, "qk");
  g.node("MatMul", [qk, g.node("Transpose", ["x"], { perm: [1, 0] }, "xT")], {}, "scores");
  const a = g.node("Softmax", [g.node("Add", ["scores", "sbias"], {}, "biased")], { axis: -1 }, "a");
  const u = g.node("MatMul", [a, "x"], {}, "u");
  const h = g.node("Add", [g.node("Add", [g.node("MatMul", ["xq", "W1"], {}, "xqW1"), g.node("MatMul", [u, "WovW1"], {}, "uWovW1")], {}, "h0"), "b1f"], {}, "h");
  const pAct = g.node("Add", [g.node("Add", [g.node("Mul", [g.node("Mul", [h, h], {}, "hh"), "c2"], {}, "c2hh"), g.node("Mul", [h, "c1"], {}, "c1h")], {}, "quad_lin"), "c0"], {}, "p");
  const y = g.node("Add", [g.node("Add", ["xq", g.node("MatMul", [u, "Wov"], {}, "uWov")], {}, "y0"), "bo"], {}, "y");
  const z = g.node("Add", [y, g.node("Add", [g.node("MatMul", [pAct, "W2"], {}, "pW2"), "b2"], {}, "f")], {}, "z");
  g.node("Add", [g.node("MatMul", [z, "U"], {}, "zU"), "bU"], {}, "logits");
  g.output("scores", [1, W]);
  g.output("logits", [1, vPad]);
  // Taps: what a plan that refreshes after the attention mix (u) or before the square (h) returns in those rounds.
  g.output("u", [1, d]);
  g.output("h", [1, F]);
  const bytes = g.build(`Cerberus Brown transformer miner part (window ${W}, width ${d}, FFN ${F}, vocab ${V} padded to ${vPad}): ` +
    "scores = xq·A·xᵀ; a = softmax(scores + sbias) on the client; u = a·x; h = xq·W1 + u·WovW1 + b1f; p = c2·h² + c1·h + c0; " +
    "logits = (xq + u·Wov + bo + p·W2 + b2)·U + bU");
  // Metadata: the graph contract (which input the miner caches, which is the query row, which is the client's).
  const model = onnx.ModelProto.decode(bytes);
  model.metadataProps = [
    onnx.StringStringEntryProto.create({ key: TX_GRAPH.kind, value: "transformer/1" }),
    onnx.StringStringEntryProto.create({ key: TX_GRAPH.cache, value: "x" }),
    onnx.StringStringEntryProto.create({ key: TX_GRAPH.query, value: "xq" }),
    onnx.StringStringEntryProto.create({ key: TX_GRAPH.client, value: "sbias" }),
    onnx.StringStringEntryProto.create({ key: TX_GRAPH.result, value: "logits" }),
  ];
  return onnx.ModelProto.encode(model).finish();
}

/** Writes <name>.client.json/.bin (transformer-client.ts) in the model's word order. */
export function writeTransformerClient(jsonPath: string, words: readonly string[], p: TransformerParams, vPad: number, lowercase: boolean): { json: Uint8Array; bin: Uint8Array } {
  const d = modelWidth(p.shape);
  const layout = TX_TENSOR_LAYOUT(p.shape.vocab, p.shape.embed, d, p.shape.window);
  const total = layout.reduce((a, [, n]) => a + n, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const [name, n] of layout) { all.set(tensor(p, name as "C").subarray(0, n), off); off += n; }
  const bin = new Uint8Array(all.buffer);
  const binName = basename(jsonPath).replace(/\.json$/, "") + ".bin";
  const header: TransformerClientHeader = {
    format: TX_CLIENT_FORMAT, embed: p.shape.embed, shift: p.shape.shift, width: d, window: p.shape.window,
    vocabSize: words.length, vPad, lowercase,
    tensors: { file: binName, dtype: "float32-le", sha256: sha256Hex(bin), layout },
    words: [...words],
  };
  const json = new TextEncoder().encode(JSON.stringify(header) + "\n");
  writeFileSync(jsonPath, json);
  writeFileSync(join(dirname(jsonPath), binName), bin);
  return { json, bin };
}
