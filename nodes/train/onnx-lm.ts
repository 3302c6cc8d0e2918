import * as ort from "onnxruntime-node";
import { softmax } from "../model/client-model.ts";
import type { MlpParams } from "./mlp.ts";

/**
 * The MLP's ONNX (the miner part, exactly as shipped) run by onnxruntime-node one context at a time, with the client's
 * embedding of the last n−1 words (history before the context padded with id 0, as the client pads): the plaintext
 * twin of an encrypted step, for training-time sampling.
 */
export class OnnxLm {
  private constructor(private readonly session: ort.InferenceSession, private readonly p: MlpParams) {}

  static async create(onnxBytes: Uint8Array, params: MlpParams): Promise<OnnxLm> {
    return new OnnxLm(await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: 1, logSeverityLevel: 3 }), params);
  }

  /** softmax of the logits over the V real words. */
  async distribution(context: readonly number[]): Promise<Float64Array> {
    const { n, embed, vocab } = this.p.shape;
    const x = new Float32Array((n - 1) * embed);
    for (let k = 0; k < n - 1; k++) {
      const j = context.length - (n - 1) + k;
      const id = j >= 0 ? context[j]! : 0;
      x.set(this.p.C.subarray(id * embed, id * embed + embed), k * embed);
    }
    const out = await this.session.run({ [this.session.inputNames[0]!]: new ort.Tensor("float32", x, [1, x.length]) });
    return softmax(out[this.session.outputNames[0]!]!.data as Float32Array, vocab);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
