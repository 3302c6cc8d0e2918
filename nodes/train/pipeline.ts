import type { Logger } from "../core/log.ts";
import type { BrownSplits } from "../model/corpus.ts";
import { diagonalMask, zeroDiagonals } from "./diagonals.ts";
import { MlpEngine } from "./engine.ts";
import { cloneParams, fillContext, initParams, inputSize, type Activation, type MlpParams } from "./mlp.ts";
import { FIRST_PREDICTED } from "../model/perplexity.ts";
import { calibrateRange, fitTanhPoly2, maxFitError, type Poly2 } from "./poly.ts";
import { createRng } from "../core/prng.ts";
import { quantize } from "./quantize.ts";
import { applyRelabeling, planRelabeling, relabelIds, type Relabeling } from "./relabel.ts";
import { perplexity, train, type Stream } from "./trainer.ts";

/**
 * The whole model squeeze, in order: float (tanh) MLP → calibrate the hidden range and fit p(h) = c0 + c1·h + c2·h²
 * (the "naive" model swaps it in untouched) → fine-tune with p (distillation from the float softmax + data loss,
 * range penalty, coefficients trainable) → progressive diagonal pruning at each squeeze rate, fine-tuning again →
 * fixed-point rounding. The shipped rate is the largest whose VALIDATION perplexity stays within `target` × float.
 * The test split is only evaluated at the end, never used for a choice.
 */
export interface PipelineConfig {
  seed: number;
  hidden: number;
  embed: number;
  n: number;
  batch: number;
  float: { epochs: number; lr: number; evalsPerEpoch: number };
  calibration: { positions: number; quantile: number };
  poly: { epochs: number; lr: number; alpha: number; lambda: number; evalsPerEpoch: number; maxFoldShift: number };
  /** alpha = distillation weight in the squeeze stages (0 = data loss only: a step costs ≈ 40% of a distilled one). */
  /** relabel = rename hidden units and words so the kept diagonals hold most of the weights (relabel.ts). */
  squeeze: { rates: number[]; epochs: number; lr: number; evalsPerEpoch: number; rampFraction: number; alpha: number; relabel: boolean };
  quantBits: number;
  target: number;
}

export const DEFAULT_CONFIG: PipelineConfig = {
  seed: 2003,
  hidden: 128,
  embed: 32,
  n: 5,
  batch: 512,
  float: { epochs: 5, lr: 2e-3, evalsPerEpoch: 2 },
  calibration: { positions: 16384, quantile: 0.999 },
  poly: { epochs: 2, lr: 1e-3, alpha: 0.5, lambda: 10, evalsPerEpoch: 2, maxFoldShift: 4 },
  squeeze: { rates: [0.25, 0.5], epochs: 2, lr: 5e-4, evalsPerEpoch: 2, rampFraction: 0.6, alpha: 0.5, relabel: true },
  quantBits: 12,
  target: 1.05,
};

export interface HiddenStats { maxAbs: number; fracOutside: number }
export interface SqueezedModel { hidden: HiddenStats; rate: number; params: MlpParams; c: Poly2; validPpl: number; validPplQuantized: number; zeroDiagonals: { W1: number; W2: number; totalW1: number; totalW2: number } }

export interface PipelineResult {
  float: { params: MlpParams; validPpl: number; steps: number };
  range: number;
  naive: { c: Poly2; maxFitError: number; validPpl: number };
  curve: SqueezedModel[];       // rate 0, then each squeeze rate (weights already quantized)
  /** How the curve's models (and the shipped one) renamed words and hidden units; undefined = corpus ids. */
  relabeling?: Relabeling;
  shipped: SqueezedModel;
  metTarget: boolean;
}

export type PhaseProgress = (phase: string, total: number) => { update(done: number, info: Record<string, number | undefined>): void; stop(): void };

export function streams(s: BrownSplits): { train: Stream; valid: Stream; test: Stream } {
  return { train: { ids: s.train, start: FIRST_PREDICTED }, valid: { ids: s.valid, start: FIRST_PREDICTED }, test: { ids: s.test, start: FIRST_PREDICTED } };
}

/** Hidden pre-activations h on `positions` random training positions (for the polynomial's range and fit). */
export async function hiddenSamples(engine: MlpEngine, p: MlpParams, act: Activation, s: Stream, positions: number, seed: number): Promise<Float32Array> {
  const rng = createRng(seed);
  const I = inputSize(p.shape), B = 1024;
  const out = new Float32Array(positions * p.shape.hidden);
  const x = new Float32Array(B * I);
  for (let done = 0; done < positions; done += B) {
    const b = Math.min(B, positions - done);
    const y = new BigInt64Array(b);
    for (let r = 0; r < b; r++) { const pos = s.start + rng.int(s.ids.length - s.start); fillContext(p, s.ids, pos, x, r); y[r] = BigInt(s.ids[pos]); }
    const { h } = await engine.evaluate(p, act, x, y);
    out.set(h.subarray(0, b * p.shape.hidden), done * p.shape.hidden);
  }
  return out;
}

function quantizeMiner(p: MlpParams, bits: number): MlpParams {
  return { ...cloneParams(p), W1: quantize(p.W1, bits), b1: quantize(p.b1, bits), W2: quantize(p.W2, bits), b2: quantize(p.b2, bits) };
}

export async function runPipeline(splits: BrownSplits, cfg: PipelineConfig, log: Logger, progress: PhaseProgress,
  onCheckpoint: (name: string, p: MlpParams, act: Activation) => void = () => {},
  /** Float model from an earlier run's checkpoint (stage 1 is then skipped). */
  resumeFloat?: MlpParams): Promise<PipelineResult> {
  let { train: trainS, valid: validS } = streams(splits);
  const shape = { vocab: splits.vocab.words.length, n: cfg.n, embed: cfg.embed, hidden: cfg.hidden };
  const perEpoch = Math.floor((trainS.ids.length - trainS.start) / cfg.batch);
  const every = (k: number) => Math.max(1, Math.floor(perEpoch / k));
  const bar = (phase: string, total: number) => {
    const b = progress(phase, total);
    return { b, onStep: (d: number, _t: number, i: { loss: number; validPpl?: number }) => b.update(d, { loss: i.loss, validPpl: i.validPpl }) };
  };

  // 1. Float model (tanh).
  const tanh: Activation = { kind: "tanh" };
  const init = initParams(shape, createRng(cfg.seed));
  const fEngine = await MlpEngine.create(init, "tanh", false);
  let pb = bar("float MLP (tanh)", perEpoch * cfg.float.epochs);
  const fl = resumeFloat
    ? { params: resumeFloat, act: tanh, validPpl: await perplexity(fEngine, resumeFloat, tanh, validS), steps: 0, history: [] }
    : await train(fEngine, init, trainS, validS, {
      act: tanh, epochs: cfg.float.epochs, batch: cfg.batch, lr: cfg.float.lr, evalEvery: every(cfg.float.evalsPerEpoch),
      seed: cfg.seed + 1, log: log.child({ phase: "float" }), onStep: pb.onStep,
    });
  pb.b.stop();
  log.info({ validPpl: fl.validPpl, steps: fl.steps, resumed: resumeFloat !== undefined }, "float model ready");
  onCheckpoint("float", fl.params, tanh);

  // 2. Calibrate the range, fit the polynomial; naive = swap it in as is.
  const h = await hiddenSamples(fEngine, fl.params, tanh, trainS, cfg.calibration.positions, cfg.seed + 2);
  await fEngine.release();
  const range = calibrateRange(h, cfg.calibration.quantile);
  const c = fitTanhPoly2(h, range);
  const pEngine = await MlpEngine.create(init, "poly", true);
  const naiveAct: Activation = { kind: "poly", c };
  const naive = { c, maxFitError: maxFitError(c, range), validPpl: await perplexity(pEngine, fl.params, naiveAct, validS) };
  log.info({ range, ...naive }, "polynomial fitted; naive swap evaluated");
  onCheckpoint("naive", fl.params, naiveAct);

  // 3. Fine-tune with the polynomial (rate 0), then 4. progressive diagonal pruning.
  const curve: SqueezedModel[] = [];
  const finish = async (rate: number, p: MlpParams, act: Activation, validPpl: number): Promise<SqueezedModel> => {
    if (act.kind !== "poly") throw new Error("squeezed models use the polynomial");
    const q = quantizeMiner(p, cfg.quantBits);
    const validPplQuantized = await perplexity(pEngine, q, act, validS);
    const z1 = zeroDiagonals(q.W1, inputSize(shape), shape.hidden), z2 = zeroDiagonals(q.W2, shape.hidden, shape.vocab);
    const hs = await hiddenSamples(pEngine, q, act, trainS, cfg.calibration.positions, cfg.seed + 2);
    let maxAbs = 0, outside = 0;
    for (const v of hs) { const a = Math.abs(v); if (a > maxAbs) maxAbs = a; if (a > range) outside++; }
    const m = { hidden: { maxAbs, fracOutside: outside / hs.length }, rate, params: q, c: act.c, validPpl, validPplQuantized, zeroDiagonals: { W1: z1.zero, W2: z2.zero, totalW1: z1.total, totalW2: z2.total } };
    log.info({ rate, validPpl, validPplQuantized, c: act.c, zeroDiagonals: m.zeroDiagonals, hidden: m.hidden }, "squeezed model");
    onCheckpoint(`squeezed-r${rate}`, q, act);
    return m;
  };
  pb = bar("poly fine-tune (r = 0)", perEpoch * cfg.poly.epochs);
  const teacher = { params: fl.params, alpha: cfg.poly.alpha };
  let cur = await train(pEngine, fl.params, trainS, validS, {
    act: naiveAct, epochs: cfg.poly.epochs, batch: cfg.batch, lr: cfg.poly.lr, evalEvery: every(cfg.poly.evalsPerEpoch),
    range, lambda: cfg.poly.lambda, teacher, trainCoefficients: true, maxFoldShift: cfg.poly.maxFoldShift, seed: cfg.seed + 3, log: log.child({ phase: "poly" }), onStep: pb.onStep,
  });
  pb.b.stop();
  // Rename before any pruning so every squeezed model (r = 0 included: same function) shares one vocabulary order.
  let relabeling: Relabeling | undefined;
  let teacherParams = fl.params;
  if (cfg.squeeze.relabel && cfg.squeeze.rates.length > 0) {
    relabeling = planRelabeling(cur.params, cfg.squeeze.rates[0]);
    cur = { ...cur, params: applyRelabeling(cur.params, relabeling) };
    teacherParams = applyRelabeling(fl.params, relabeling);
    trainS = { ...trainS, ids: relabelIds(trainS.ids, relabeling) };
    validS = { ...validS, ids: relabelIds(validS.ids, relabeling) };
    log.info({ rate: cfg.squeeze.rates[0] }, "hidden units and words relabeled for diagonal pruning");
  }
  curve.push(await finish(0, cur.params, cur.act, cur.validPpl));
  let plainEngine: MlpEngine | undefined;
  for (const [i, rate] of cfg.squeeze.rates.entries()) {
    const masks = {
      W1: diagonalMask(cur.params.W1, inputSize(shape), shape.hidden, rate),
      W2: diagonalMask(cur.params.W2, shape.hidden, shape.vocab, rate),
    };
    const steps = Math.max(1, Math.round(perEpoch * cfg.squeeze.epochs));
    pb = bar(`squeeze r = ${rate}`, steps);
    const sEngine = cfg.squeeze.alpha > 0 ? pEngine : (plainEngine ??= await MlpEngine.create(init, "poly", false));
    cur = await train(sEngine, cur.params, trainS, validS, {
      pruneRampSteps: Math.round(cfg.squeeze.rampFraction * steps),
      act: cur.act, epochs: cfg.squeeze.epochs, batch: cfg.batch, lr: cfg.squeeze.lr, evalEvery: every(cfg.squeeze.evalsPerEpoch),
      range, lambda: cfg.poly.lambda, teacher: cfg.squeeze.alpha > 0 ? { params: teacherParams, alpha: cfg.squeeze.alpha } : undefined,
      trainCoefficients: true, maxFoldShift: cfg.poly.maxFoldShift, masks, seed: cfg.seed + 10 + i, log: log.child({ phase: `squeeze-${rate}` }), onStep: pb.onStep,
    });
    pb.b.stop();
    curve.push(await finish(rate, cur.params, cur.act, cur.validPpl));
  }
  await pEngine.release();
  await plainEngine?.release();

  // 5. Ship the largest rate within target × float on validation (curve[0] if none is).
  const ok = curve.filter((m) => m.validPplQuantized <= cfg.target * fl.validPpl);
  const shipped = ok.length > 0 ? ok[ok.length - 1] : curve[0];
  return { float: { params: fl.params, validPpl: fl.validPpl, steps: fl.steps }, range, naive, curve, relabeling, shipped, metTarget: ok.length > 0 };
}
