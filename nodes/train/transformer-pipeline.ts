import type { Logger } from "../core/log.ts";
import type { BrownSplits } from "../model/corpus.ts";
import { createRng } from "../core/prng.ts";
import { generationHistoryStarts } from "../model/regime.ts";
import { diagonalMask, zeroDiagonals } from "./diagonals.ts";
import type { PhaseProgress } from "./pipeline.ts";
import { calibrateRange } from "./poly.ts";
import { quantize } from "./quantize.ts";
import { TransformerEngine, type TransformerBatch } from "./transformer-engine.ts";
import { pplOf, regimeLogProbs, regimeSegments, trainTransformer, type Segment } from "./transformer-trainer.ts";
import { cloneTransformer, CLIENT_TENSORS, fillTokenShift, initTransformer, modelWidth, tensor, tensorsOf, toFheForm, type TransformerParams, type TransformerShape, type TransformerTensor } from "./transformer.ts";

/**
 * The transformer's squeeze, in order, every step measured on validation in the generation regime:
 *   1. float (layer norms, GELU, factored attention);
 *   2. FHE-friendly form: norms folded into the next matrix (σ̄ = the training average of each token's σ), the
 *      attention products A = Wq·Wkᵀ/√d and Wov = Wv·Wo as they are computed, GELU → the least-squares quadratic on
 *      the calibrated range ("naive"), then fine-tuned with the range penalty (coefficients trainable, fold shift
 *      bounded as for the MLP);
 *   3. quantized: every miner-side tensor rounded to multiples of 2^-bits;
 *   4. pruned: per output block the fraction r of generalized diagonals with the smallest norms of every miner matrix
 *      (A, Wov, W1, W2, U — the FHE plan skips all-zero diagonals), ramped down and fine-tuned, quantized again;
 *   5. encrypted: measured by bench:model on real ciphertexts (not here).
 * The shipped rate is the largest whose quantized validation perplexity stays within `target` × float.
 */
export interface TransformerPipelineConfig {
  seed: number;
  shape: Omit<TransformerShape, "vocab">;
  batch: number;
  evalBatch: number;
  /** Validation segments used while training (the full split is scored at every stage's end); 0 = all. */
  validSegments: number;
  /** `dropout`: on the attention output and the FFN activation; `outputDropout`: on the output layer's input. */
  float: { epochs: number; lr: number; warmup: number; minLrFraction: number; evalsPerEpoch: number; weightDecay: number; dropout: number; outputDropout: number };
  calibration: { windows: number; quantile: number };
  fhe: { epochs: number; lr: number; lambda: number; maxFoldShift: number; evalsPerEpoch: number; dropout: number; outputDropout: number };
  prune: { rates: number[]; epochs: number; lr: number; rampFraction: number; evalsPerEpoch: number };
  quantBits: number;
  target: number;
}

export const DEFAULT_TRANSFORMER_CONFIG: TransformerPipelineConfig = {
  seed: 2017,
  shape: { embed: 32, shift: 4, ff: 128, window: 32 },
  batch: 32,
  evalBatch: 32,
  validSegments: 600,
  float: { epochs: 4, lr: 3e-3, warmup: 200, minLrFraction: 0.05, evalsPerEpoch: 4, weightDecay: 0, dropout: 0.15, outputDropout: 0.4 },
  calibration: { windows: 256, quantile: 0.999 },
  fhe: { epochs: 2, lr: 5e-4, lambda: 10, maxFoldShift: 4, evalsPerEpoch: 4, dropout: 0.15, outputDropout: 0.4 },
  prune: { rates: [0.5], epochs: 0.5, lr: 5e-4, rampFraction: 0.6, evalsPerEpoch: 4 },
  quantBits: 12,
  target: 1.05,
};

/** Matrices the miner multiplies by, as [in, out]: the ones whose diagonals can be pruned. */
export const PRUNABLE: readonly TransformerTensor[] = ["A", "Wov", "W1", "W2", "U"];

export interface TransformerStage { name: string; validPpl: number; params: TransformerParams }

export interface TransformerPipelineResult {
  float: TransformerStage;
  /** Float training's validation perplexity (the 600-segment sample) at every evaluation, by epoch: where it stops. */
  floatCurve: { epoch: number; validPpl: number }[];
  naive: TransformerStage & { c: [number, number, number]; range: number; sigma1: number; sigmaF: number };
  fhe: TransformerStage;
  quantized: TransformerStage;
  curve: (TransformerStage & { rate: number; zeroDiagonals: Record<string, { zero: number; total: number }> })[];
  shipped: TransformerStage & { rate: number };
  range: number;
  metTarget: boolean;
  seconds: Record<string, number>;
}

export function dims(shape: TransformerShape, k: TransformerTensor): [number, number] {
  const d = modelWidth(shape);
  const m: Partial<Record<TransformerTensor, [number, number]>> = { A: [d, d], Wov: [d, d], W1: [d, shape.ff], W2: [shape.ff, d], U: [d, shape.vocab] };
  return m[k]!;
}

export function quantizeTransformer(p: TransformerParams, bits: number): TransformerParams {
  const q = cloneTransformer(p);
  for (const k of tensorsOf(p.form)) {
    if (CLIENT_TENSORS.includes(k) || k === "c") continue;
    q.t[k] = quantize(tensor(p, k), bits);
  }
  return q;
}

export async function runTransformerPipeline(splits: BrownSplits, cfg: TransformerPipelineConfig, log: Logger, progress: PhaseProgress,
  onCheckpoint: (name: string, p: TransformerParams) => void = () => {},
  /** A float model from an earlier run's checkpoint (stage 1 is then skipped). */
  resumeFloat?: TransformerParams): Promise<TransformerPipelineResult> {
  const shape: TransformerShape = { ...cfg.shape, vocab: splits.vocab.words.length };
  const T = shape.window;
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (k: string) => { seconds[k] = Math.round((performance.now() - t0) / 1000); t0 = performance.now(); };
  const allSegments = regimeSegments(generationHistoryStarts(splits.valid.length));
  const validSegments = cfg.validSegments > 0 ? sampleSegments(allSegments, cfg.validSegments, cfg.seed) : allSegments;
  const perEpoch = Math.floor((splits.train.length - 1) / (cfg.batch * T));
  const every = (k: number) => Math.max(1, Math.floor(perEpoch / k));
  const bar = (phase: string, total: number) => {
    const b = progress(phase, total);
    return { b, onStep: (done: number, _t: number, i: { loss: number; validPpl?: number }) => b.update(done, { loss: i.loss, validPpl: i.validPpl }) };
  };
  const fullValid = async (eng: TransformerEngine, p: TransformerParams) => pplOf(await regimeLogProbs(eng, p, splits.valid, allSegments));

  // 1. Float.
  const fTrain = await TransformerEngine.create(shape, "float", { batch: cfg.batch, seq: T, train: true, dropout: cfg.float.dropout, outputDropout: cfg.float.outputDropout });
  const fEval = await TransformerEngine.create(shape, "float", { batch: cfg.evalBatch, seq: T, train: false });
  let pb = bar("float transformer", Math.round(perEpoch * cfg.float.epochs));
  const fl = resumeFloat !== undefined ? { params: resumeFloat, validPpl: NaN, steps: 0, history: [] } : await trainTransformer(fTrain, fEval, initTransformer(shape, createRng(cfg.seed)), splits.train, splits.valid, validSegments, {
    epochs: cfg.float.epochs, lr: cfg.float.lr, warmup: cfg.float.warmup, minLrFraction: cfg.float.minLrFraction,
    evalEvery: every(cfg.float.evalsPerEpoch), weightDecay: cfg.float.weightDecay, seed: cfg.seed + 1, log: log.child({ phase: "float" }), onStep: pb.onStep,
  });
  pb.b.stop();
  await fTrain.release();
  const float: TransformerStage = { name: "float", params: fl.params, validPpl: await fullValid(fEval, fl.params) };
  log.info({ validPpl: float.validPpl, steps: fl.steps }, "float transformer ready");
  onCheckpoint("tx-float", float.params);
  lap("float");

  // 2. FHE-friendly form: σ̄ of both norms, then the FFN pre-activation's range and the quadratic fitted to GELU on it.
  const { sd1, sdf } = await normSigmas(fEval, float.params, splits.train, cfg.calibration.windows, cfg.seed + 2);
  await fEval.release();
  const hEval = await TransformerEngine.create(shape, "fhe", { batch: cfg.evalBatch, seq: T, train: false });
  const provisional = toFheForm(float.params, sd1, sdf, [0, 1, 0]);
  const h = await ffnSamples(hEval, provisional, splits.train, cfg.calibration.windows, cfg.seed + 3);
  const range = calibrateRange(h, cfg.calibration.quantile);
  const c = fitGeluPoly2(h, range);
  const naiveParams = toFheForm(float.params, sd1, sdf, c);
  const naive = { name: "naive", params: naiveParams, validPpl: await fullValid(hEval, naiveParams), c, range, sigma1: sd1, sigmaF: sdf };
  log.info({ sigma1: sd1, sigmaF: sdf, range, c, validPpl: naive.validPpl }, "FHE form: norms folded, GELU → quadratic (naive)");
  onCheckpoint("tx-naive", naive.params);
  lap("convert");

  const hTrain = await TransformerEngine.create(shape, "fhe", { batch: cfg.batch, seq: T, train: true, dropout: cfg.fhe.dropout, outputDropout: cfg.fhe.outputDropout });
  const clamp = (p: TransformerParams) => {
    const cc = tensor(p, "c");
    const min = Math.abs(cc[1]!) / (2 * cfg.fhe.maxFoldShift * range);
    if (Math.abs(cc[2]!) < min) cc[2] = cc[2]! < 0 ? -min : min;
  };
  clamp(naive.params);
  pb = bar("FHE form fine-tune", Math.round(perEpoch * cfg.fhe.epochs));
  const ft = await trainTransformer(hTrain, hEval, naive.params, splits.train, splits.valid, validSegments, {
    epochs: cfg.fhe.epochs, lr: cfg.fhe.lr, warmup: 50, minLrFraction: 0.1, evalEvery: every(cfg.fhe.evalsPerEpoch),
    penalty: { range, lambda: cfg.fhe.lambda }, afterUpdate: clamp, seed: cfg.seed + 4, log: log.child({ phase: "fhe" }), onStep: pb.onStep,
  });
  pb.b.stop();
  const fhe: TransformerStage = { name: "fhe", params: ft.params, validPpl: await fullValid(hEval, ft.params) };
  onCheckpoint("tx-fhe", fhe.params);
  lap("fhe");

  // 3. Quantized.
  const qp = quantizeTransformer(fhe.params, cfg.quantBits);
  const quantized: TransformerStage = { name: "quantized", params: qp, validPpl: await fullValid(hEval, qp) };
  log.info({ fhe: fhe.validPpl, quantized: quantized.validPpl }, "FHE form fine-tuned and quantized");
  lap("quantize");

  // 4. Pruned (per rate, each from the previous), quantized again.
  const curve: TransformerPipelineResult["curve"] = [];
  let cur = fhe.params;
  for (const [i, rate] of cfg.prune.rates.entries()) {
    const masks: Partial<Record<TransformerTensor, Uint8Array>> = {};
    for (const k of PRUNABLE) { const [a, b] = dims(shape, k); masks[k] = diagonalMask(tensor(cur, k), a, b, rate); }
    const steps = Math.max(1, Math.round(perEpoch * cfg.prune.epochs));
    pb = bar(`prune r = ${rate}`, steps);
    const pr = await trainTransformer(hTrain, hEval, cur, splits.train, splits.valid, validSegments, {
      epochs: cfg.prune.epochs, lr: cfg.prune.lr, warmup: 50, minLrFraction: 0.1, evalEvery: every(cfg.prune.evalsPerEpoch),
      penalty: { range, lambda: cfg.fhe.lambda }, afterUpdate: clamp, masks, pruneRampSteps: Math.round(cfg.prune.rampFraction * steps),
      seed: cfg.seed + 10 + i, log: log.child({ phase: `prune-${rate}` }), onStep: pb.onStep,
    });
    pb.b.stop();
    cur = pr.params;
    const q = quantizeTransformer(cur, cfg.quantBits);
    const zeroDiags: Record<string, { zero: number; total: number }> = {};
    for (const k of PRUNABLE) { const [a, b] = dims(shape, k); zeroDiags[k] = zeroDiagonals(tensor(q, k), a, b); }
    const m = { name: `pruned r = ${rate}`, rate, params: q, validPpl: await fullValid(hEval, q), zeroDiagonals: zeroDiags };
    log.info({ rate, validPpl: m.validPpl, zeroDiagonals: zeroDiags }, "pruned");
    onCheckpoint(`tx-pruned-r${rate}`, q);
    curve.push(m);
    lap(`prune-${rate}`);
  }
  await hTrain.release();
  await hEval.release();
  const within = curve.filter((m) => m.validPpl <= cfg.target * float.validPpl);
  const shipped = within.length > 0 ? within[within.length - 1]! : { ...quantized, rate: 0 };
  const floatCurve = fl.history.map((h) => ({ epoch: +(h.step / perEpoch).toFixed(3), validPpl: h.validPpl }));
  return { float, floatCurve, naive, fhe, quantized, curve, shipped, range, metTarget: shipped.validPpl <= cfg.target * float.validPpl, seconds };
}

function sampleSegments(all: readonly Segment[], n: number, seed: number): Segment[] {
  const rng = createRng(seed);
  const step = all.length / n;
  return Array.from({ length: Math.min(n, all.length) }, (_, i) => all[Math.min(all.length - 1, Math.floor(i * step + rng.next() * step))]!);
}

/** Random train windows as evaluation batches (no scoring: calibration only). */
async function* trainWindows(eng: TransformerEngine, p: TransformerParams, train: Int32Array, windows: number, seed: number): AsyncGenerator<TransformerBatch> {
  const rng = createRng(seed);
  const d = modelWidth(p.shape), B = eng.batch, T = eng.seq;
  for (let done = 0; done < windows; done += B) {
    const b: TransformerBatch = { X: new Float32Array(B * T * d), y: new BigInt64Array(B * T), weight: new Float32Array(B * T).fill(1) };
    for (let r = 0; r < B; r++) {
      const s = 1 + rng.int(train.length - T - 2);
      fillTokenShift(p, train, s, T, 0, b.X, r * T * d);
      for (let t = 0; t < T; t++) b.y[r * T + t] = BigInt(train[s + t + 1]!);
    }
    yield b;
  }
}

/** σ̄ of the two norms: the average over train tokens of each token's σ (what the FHE form divides by instead). */
export async function normSigmas(eng: TransformerEngine, p: TransformerParams, train: Int32Array, windows: number, seed: number): Promise<{ sd1: number; sdf: number }> {
  let s1 = 0, sf = 0, n = 0;
  for await (const b of trainWindows(eng, p, train, windows, seed)) {
    const r = await eng.evaluate(p, b);
    for (let i = 0; i < r.sd1!.length; i++) { s1 += r.sd1![i]!; sf += r.sdf![i]!; n++; }
  }
  return { sd1: s1 / n, sdf: sf / n };
}

/** FFN pre-activations on random train windows (FHE form). */
export async function ffnSamples(eng: TransformerEngine, p: TransformerParams, train: Int32Array, windows: number, seed: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const b of trainWindows(eng, p, train, windows, seed)) parts.push((await eng.evaluate(p, b)).hff.slice());
  const out = new Float32Array(parts.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of parts) { out.set(x, o); o += x.length; }
  return out;
}

export function gelu(h: number): number {
  return 0.5 * h * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (h + 0.044715 * h ** 3)));
}

/** Least-squares c0 + c1·h + c2·h² ≈ GELU(h) over the samples clamped to [−R, R]. */
export function fitGeluPoly2(h: Float32Array, range: number): [number, number, number] {
  const S = new Float64Array(5), r = new Float64Array(3);
  for (let i = 0; i < h.length; i++) {
    const v = Math.max(-range, Math.min(range, h[i]!));
    const t = gelu(v);
    let pw = 1;
    for (let k = 0; k < 5; k++) { S[k] += pw; if (k < 3) r[k] += pw * t; pw *= v; }
  }
  const A = [[S[0]!, S[1]!, S[2]!, r[0]!], [S[1]!, S[2]!, S[3]!, r[1]!], [S[2]!, S[3]!, S[4]!, r[2]!]];
  for (let col = 0; col < 3; col++) {
    let piv = col;
    for (let row = col + 1; row < 3; row++) if (Math.abs(A[row]![col]!) > Math.abs(A[piv]![col]!)) piv = row;
    [A[col], A[piv]] = [A[piv]!, A[col]!];
    for (let row = 0; row < 3; row++) {
      if (row === col) continue;
      const f = A[row]![col]! / A[col]![col]!;
      for (let k = col; k < 4; k++) A[row]![k] = A[row]![k]! - f * A[col]![k]!;
    }
  }
  return [A[0]![3]! / A[0]![0]!, A[1]![3]! / A[1]![1]!, A[2]![3]! / A[2]![2]!];
}
