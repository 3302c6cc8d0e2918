import * as ort from "onnxruntime-node";
import { buildEvalGraph, buildTrainGraph, type GraphSpec } from "./train-graph.ts";
import { inputSize, type Activation, type MlpParams } from "./mlp.ts";

export interface Gradients { dW1: Float32Array; db1: Float32Array; dW2: Float32Array; db2: Float32Array; dx: Float32Array }
export interface StepResult extends Gradients { logp: Float32Array; outFrac: number; dc?: Float32Array }
export interface Teacher { params: MlpParams; x: Float32Array; alpha: number }

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: Number(process.env.CERBERUS_ORT_THREADS ?? 2),
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  executionMode: "sequential",
  logSeverityLevel: 3,
  // The machine is shared: idle intra-op threads should sleep, not spin on cores other jobs need.
  extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
};

const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);

/** Runs the training-step and evaluation graphs of one (vocab, hidden, activation) with onnxruntime-node. */
export class MlpEngine {
  private constructor(
    private readonly spec: GraphSpec,
    private readonly train: ort.InferenceSession,
    private readonly evalS: ort.InferenceSession,
  ) {}

  static async create(params: MlpParams, act: "tanh" | "poly", distill: boolean): Promise<MlpEngine> {
    const spec: GraphSpec = { vocab: params.shape.vocab, input: inputSize(params.shape), hidden: params.shape.hidden, act, distill };
    const [train, evalS] = await Promise.all([
      ort.InferenceSession.create(buildTrainGraph(spec), sessionOptions),
      ort.InferenceSession.create(buildEvalGraph({ ...spec, distill: false }), sessionOptions),
    ]);
    return new MlpEngine(spec, train, evalS);
  }

  private feeds(p: MlpParams, act: Activation, x: Float32Array, y: BigInt64Array): Record<string, ort.Tensor> {
    const { input: I, hidden: H, vocab: V } = this.spec;
    const B = y.length;
    const feeds: Record<string, ort.Tensor> = {
      x: f32(x.subarray(0, B * I), [B, I]), y: new ort.Tensor("int64", y, [B]),
      W1: f32(p.W1, [I, H]), b1: f32(p.b1, [H]), W2: f32(p.W2, [H, V]), b2: f32(p.b2, [V]),
    };
    if (this.spec.act === "poly") {
      if (act.kind !== "poly") throw new Error("poly engine needs poly coefficients");
      feeds.c = f32(Float32Array.from(act.c), [3]);
    }
    return feeds;
  }

  async step(p: MlpParams, act: Activation, x: Float32Array, y: BigInt64Array,
    opts: { range: number; lambda: number; teacher?: Teacher }): Promise<StepResult> {
    const { input: I, hidden: H, vocab: V } = this.spec;
    const B = y.length;
    const feeds = this.feeds(p, act, x, y);
    feeds.scale = f32(Float32Array.of(1 / B), [1]);
    feeds.range = f32(Float32Array.of(opts.range), [1]);
    feeds.lam2 = f32(Float32Array.of((2 * opts.lambda) / B), [1]);
    if (this.spec.distill) {
      const t = opts.teacher;
      if (!t) throw new Error("distillation engine needs a teacher");
      feeds.alpha = f32(Float32Array.of(t.alpha), [1]);
      feeds.xt = f32(t.x.subarray(0, B * I), [B, I]);
      feeds.W1t = f32(t.params.W1, [I, H]); feeds.b1t = f32(t.params.b1, [H]);
      feeds.W2t = f32(t.params.W2, [H, V]); feeds.b2t = f32(t.params.b2, [V]);
    }
    const r = await this.train.run(feeds);
    const get = (k: string) => r[k].data as Float32Array;
    return { logp: get("logp"), dW1: get("dW1"), db1: get("db1"), dW2: get("dW2"), db2: get("db2"), dx: get("dx"), outFrac: get("out_frac")[0],
      dc: this.spec.act === "poly" ? Float32Array.of(get("dc0")[0], get("dc1")[0], get("dc2")[0]) : undefined };
  }

  /** log P(y_b | x_b) per row, plus the hidden pre-activations h (for calibrating the polynomial range). */
  async evaluate(p: MlpParams, act: Activation, x: Float32Array, y: BigInt64Array): Promise<{ logp: Float32Array; h: Float32Array }> {
    const r = await this.evalS.run(this.feeds(p, act, x, y));
    return { logp: r.logp.data as Float32Array, h: r.h.data as Float32Array };
  }

  async release(): Promise<void> {
    await this.train.release();
    await this.evalS.release();
  }
}
