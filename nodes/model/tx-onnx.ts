import * as ort from "onnxruntime-node";
import { softmax } from "./client-model.ts";
import type { TransformerClient } from "./transformer-client.ts";

/**
 * The transformer's miner ONNX (exactly as shipped) with the client's part around it, one context at a time: the
 * plaintext twin of an encrypted word (its `scores` and `logits` are what the two rounds return), for sampling and
 * as the validators' reference.
 */
export class TxOnnxLm {
  private constructor(private readonly session: ort.InferenceSession, readonly client: TransformerClient) {}

  static async create(onnxBytes: Uint8Array, client: TransformerClient, threads = 1): Promise<TxOnnxLm> {
    return new TxOnnxLm(await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: threads, logSeverityLevel: 3 }), client);
  }

  /** Scores and logits for the last position of `history` (a history starting at historyStart), window policy applied. */
  async run(history: readonly number[], historyStart = 0): Promise<{ scores: Float32Array; logits: Float32Array; ws: number; k: number; outputs: Record<string, Float32Array> }> {
    const c = this.client;
    const k = history.length - 1;
    const ws = historyStart + c.windowStart(k - historyStart);
    const d = c.width, W = c.window;
    const x = new Float32Array(W * d);
    for (let j = ws; j <= k; j++) x.set(c.row(history, j, historyStart), (j - ws) * d);
    const out = await this.session.run({
      x: new ort.Tensor("float32", x, [W, d]),
      xq: new ort.Tensor("float32", c.row(history, k, historyStart), [1, d]),
      sbias: new ort.Tensor("float32", c.scoreBias(k, ws), [1, W]),
    });
    const outputs: Record<string, Float32Array> = {};
    for (const name of this.session.outputNames) outputs[name] = out[name]!.data as Float32Array;
    return { scores: outputs.scores!, logits: outputs.logits!, ws, k, outputs };
  }

  /** softmax of the logits over the V real words for the next word after `context`. */
  async distribution(context: readonly number[]): Promise<Float64Array> {
    return softmax((await this.run(context)).logits, this.client.vocab.size);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
