import * as ort from "onnxruntime-node";
import { buildTransformerGraph, graphTensors, modelWidth, tensor, tensorShapes, type TransformerForm, type TransformerParams, type TransformerShape, type TransformerTensor } from "./transformer.ts";

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: Number(process.env.CERBERUS_ORT_THREADS ?? 2),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  logSeverityLevel: 3,
  // The machine is shared: idle intra-op threads should sleep, not spin on cores other jobs need.
  extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
};

export interface TransformerBatch {
  /** Token-shift inputs [B, T, d]. */
  X: Float32Array;
  /** Next word per position [B·T]. */
  y: BigInt64Array;
  /** 1 = scored, 0 = padding or context only [B·T]. */
  weight: Float32Array;
}

export interface TransformerStep {
  loss: number;
  logp: Float32Array;
  grads: Partial<Record<TransformerTensor, Float32Array>>;
  gX: Float32Array;
}

/** onnxruntime sessions for one (shape, form, batch, sequence): the training step and the evaluation pass. */
export class TransformerEngine {
  private constructor(readonly shape: TransformerShape, readonly form: TransformerForm, readonly batch: number, readonly seq: number,
    private readonly trainS: ort.InferenceSession | undefined, private readonly evalS: ort.InferenceSession) {}

  /** Dropout probability of the training graph on the attention output and the FFN activation (0 = none). */
  dropout = 0;
  /** Dropout probability on the output layer's input (0 = none). */
  outputDropout = 0;

  static async create(shape: TransformerShape, form: TransformerForm, o: { batch: number; seq: number; train: boolean; dropout?: number; outputDropout?: number }): Promise<TransformerEngine> {
    const dropout = o.dropout ?? 0, outputDropout = o.outputDropout ?? 0;
    const [trainS, evalS] = await Promise.all([
      o.train ? ort.InferenceSession.create(buildTransformerGraph(shape, { form, batch: o.batch, seq: o.seq, train: true, dropout: dropout > 0, outputDropout: outputDropout > 0 }), sessionOptions) : Promise.resolve(undefined),
      ort.InferenceSession.create(buildTransformerGraph(shape, { form, batch: o.batch, seq: o.seq, train: false }), sessionOptions),
    ]);
    const e = new TransformerEngine(shape, form, o.batch, o.seq, trainS, evalS);
    e.dropout = dropout;
    e.outputDropout = outputDropout;
    return e;
  }

  private feeds(p: TransformerParams, b: TransformerBatch): Record<string, ort.Tensor> {
    const d = modelWidth(this.shape), B = this.batch, T = this.seq;
    const shapes = tensorShapes(this.shape);
    let count = 0;
    for (const w of b.weight) count += w;
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor("float32", b.X, [B, T, d]), y: new ort.Tensor("int64", b.y, [B * T]),
      weight: new ort.Tensor("float32", b.weight, [B * T]), invCount: new ort.Tensor("float32", Float32Array.of(1 / Math.max(1, count)), [1]),
    };
    if (p.form !== this.form) throw new Error(`a ${this.form} engine cannot run a ${p.form} model`);
    for (const k of graphTensors(this.form)) feeds[k] = new ort.Tensor("float32", tensor(p, k), shapes[k]);
    return feeds;
  }

  async step(p: TransformerParams, b: TransformerBatch, penalty: { range: number; lambda: number }, random?: () => number): Promise<TransformerStep> {
    if (this.trainS === undefined) throw new Error("engine built without a training graph");
    const feeds = this.feeds(p, b);
    const B = this.batch, T = this.seq, d = modelWidth(this.shape), F = this.shape.ff;
    const rnd = random ?? Math.random;
    const mask = (n: number, drop: number) => {
      const keep = 1 - drop, scale = 1 / keep;
      return Float32Array.from({ length: n }, () => (rnd() < keep ? scale : 0));
    };
    if (this.dropout > 0) {
      feeds.drop_attn = new ort.Tensor("float32", mask(B * T * d, this.dropout), [B, T, d]);
      feeds.drop_ffn = new ort.Tensor("float32", mask(B * T * F, this.dropout), [B, T, F]);
    }
    if (this.outputDropout > 0) feeds.drop_out = new ort.Tensor("float32", mask(B * T * d, this.outputDropout), [B, T, d]);
    if (this.form === "fhe") {
      feeds.range = new ort.Tensor("float32", Float32Array.of(penalty.range), [1]);
      feeds.lambda = new ort.Tensor("float32", Float32Array.of(penalty.lambda), [1]);
    }
    const r = await this.trainS.run(feeds);
    const grads: Partial<Record<TransformerTensor, Float32Array>> = {};
    for (const k of graphTensors(this.form)) grads[k] = r[`grad_${k}`]!.data as Float32Array;
    return { loss: (r.loss!.data as Float32Array)[0]!, logp: r.logp!.data as Float32Array, grads, gX: r.grad_X!.data as Float32Array };
  }

  /** log P(y) per position, the FFN pre-activations [B, T, ff] and (float form) each token's σ in the two norms. */
  async evaluate(p: TransformerParams, b: TransformerBatch): Promise<{ logp: Float32Array; hff: Float32Array; sd1?: Float32Array; sdf?: Float32Array }> {
    const r = await this.evalS.run(this.feeds(p, b));
    return { logp: r.logp!.data as Float32Array, hff: r.h_ff!.data as Float32Array,
      ...(r.sd1 !== undefined ? { sd1: r.sd1.data as Float32Array, sdf: r.sdf!.data as Float32Array } : {}) };
  }

  async release(): Promise<void> {
    await this.trainS?.release();
    await this.evalS.release();
  }
}
