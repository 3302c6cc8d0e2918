import type { Logger } from "../core/log.ts";
import { Adam } from "./adam.ts";
import type { MlpEngine } from "./engine.ts";
import { cloneParams, fillContext, inputSize, type Activation, type MlpParams } from "./mlp.ts";
import { createRng, shuffle } from "../core/prng.ts";

/** A token stream whose first `start` tokens are context only (e.g. the tail of the previous split). */
export interface Stream { readonly ids: Int32Array; readonly start: number }

export interface TrainOptions {
  readonly act: Activation;
  readonly epochs: number;
  /** Fraction of the training positions visited per epoch (1 = all); the subset is reshuffled each epoch. */
  readonly epochFraction?: number;
  readonly batch: number;
  readonly lr: number;
  readonly weightDecay?: number;
  /** Hidden pre-activation range [−R, R] enforced by the penalty λ·Σ relu(|h| − R)². */
  readonly range?: number;
  readonly lambda?: number;
  readonly teacher?: { params: MlpParams; alpha: number };
  /** Pruning masks (1 = keep), applied after every update so pruned weights stay exactly zero. */
  readonly masks?: { W1?: Uint8Array; W2?: Uint8Array };
  /**
   * Gradual pruning: for the first `pruneRampSteps` steps the masked weights are decayed geometrically (to 1% of
   * their value at the end of the ramp) instead of being cut at once, so the rest of the network can take over
   * their job; from then on they are exactly zero. Cutting whole diagonals of W2 at once is catastrophic (the
   * smallest-norm diagonals include the most frequent words' rows) and a short fine-tune does not recover.
   */
  readonly pruneRampSteps?: number;
  /** Early stopping: validate every `evalEvery` steps (default: once per epoch); halve lr on no improvement. */
  readonly evalEvery?: number;
  readonly patience?: number;
  /** Fine-tune the polynomial coefficients too (poly activation only). */
  readonly trainCoefficients?: boolean;
  /**
   * Keep |c2| ≥ |c1| / (2·K·R) (K = this value): the FHE compiler folds p into c2·(h + c1/(2c2))² + const, and a
   * c2 near zero would make that shift — and the squared values — explode. K = 4 bounds the shift by 4R.
   */
  readonly maxFoldShift?: number;
  readonly seed: number;
  readonly onStep?: (done: number, total: number, info: { loss: number; validPpl?: number }) => void;
  readonly log?: Logger;
}

export interface TrainResult { params: MlpParams; act: Activation; validPpl: number; steps: number; history: { step: number; validPpl: number }[] }

/** P(ids[i] | context) for every position i in [start, len) of the stream (index i − start). */
export async function targetProbs(engine: MlpEngine, p: MlpParams, act: Activation, s: Stream, batch = 1024): Promise<Float64Array> {
  const I = inputSize(p.shape);
  const x = new Float32Array(batch * I);
  const out = new Float64Array(s.ids.length - s.start);
  for (let pos = s.start; pos < s.ids.length; pos += batch) {
    const b = Math.min(batch, s.ids.length - pos);
    const y = new BigInt64Array(b);
    for (let r = 0; r < b; r++) { fillContext(p, s.ids, pos + r, x, r); y[r] = BigInt(s.ids[pos + r]); }
    const { logp } = await engine.evaluate(p, act, x, y);
    for (let r = 0; r < b; r++) out[pos + r - s.start] = Math.exp(logp[r]);
  }
  return out;
}

/**
 * The generation regime (regime.ts): P(ids[i] | ids[from[i] … i−1]) at every position with from[i] ≥ 0 (0 elsewhere),
 * the MLP's context padded with id 0 before from[i], as the client pads a short prompt.
 */
export async function regimeProbs(engine: MlpEngine, p: MlpParams, act: Activation, ids: Int32Array, from: Int32Array, batch = 1024): Promise<Float64Array> {
  const I = inputSize(p.shape);
  const x = new Float32Array(batch * I);
  const out = new Float64Array(ids.length);
  const positions: number[] = [];
  for (let i = 0; i < ids.length; i++) if (from[i]! >= 0) positions.push(i);
  for (let k = 0; k < positions.length; k += batch) {
    const b = Math.min(batch, positions.length - k);
    const y = new BigInt64Array(b);
    for (let r = 0; r < b; r++) { const pos = positions[k + r]!; fillContext(p, ids, pos, x, r, from[pos]!); y[r] = BigInt(ids[pos]!); }
    const { logp } = await engine.evaluate(p, act, x, y);
    for (let r = 0; r < b; r++) out[positions[k + r]!] = Math.exp(logp[r]!);
  }
  return out;
}

/** exp(−mean log P) over positions [start, len) of the stream. */
export async function perplexity(engine: MlpEngine, p: MlpParams, act: Activation, s: Stream, batch = 1024): Promise<number> {
  const I = inputSize(p.shape);
  const x = new Float32Array(batch * I);
  let sum = 0, count = 0;
  for (let pos = s.start; pos < s.ids.length; pos += batch) {
    const b = Math.min(batch, s.ids.length - pos);
    const y = new BigInt64Array(b);
    for (let r = 0; r < b; r++) { fillContext(p, s.ids, pos + r, x, r); y[r] = BigInt(s.ids[pos + r]); }
    const { logp } = await engine.evaluate(p, act, x, y);
    for (let r = 0; r < b; r++) sum += logp[r];
    count += b;
  }
  return Math.exp(-sum / count);
}

/** Mini-batch Adam with onnxruntime computing loss and gradients; returns the best parameters on validation. */
export async function train(engine: MlpEngine, init: MlpParams, trainS: Stream, validS: Stream, o: TrainOptions): Promise<TrainResult> {
  const p = cloneParams(init);
  const { embed, n } = p.shape;
  const I = inputSize(p.shape);
  const rng = createRng(o.seed);
  const adam = new Adam(o.lr);
  const positions = new Int32Array(trainS.ids.length - trainS.start);
  for (let i = 0; i < positions.length; i++) positions[i] = trainS.start + i;
  const perEpoch = Math.floor((positions.length * (o.epochFraction ?? 1)) / o.batch);
  const total = Math.max(1, Math.round(perEpoch * o.epochs));
  const evalEvery = o.evalEvery ?? perEpoch;
  const x = new Float32Array(o.batch * I);
  const xt = o.teacher ? new Float32Array(o.batch * I) : undefined;
  const y = new BigInt64Array(o.batch);
  const gC = new Float32Array(p.C.length);

  const coef = o.act.kind === "poly" ? Float32Array.from(o.act.c) : undefined;
  const clampC2 = () => {
    if (!coef || !o.maxFoldShift) return;
    const min = Math.abs(coef[1]) / (2 * o.maxFoldShift * (o.range ?? 1));
    if (Math.abs(coef[2]) < min) coef[2] = coef[2] < 0 ? -min : min;
  };
  clampC2();
  const act = (): Activation => (coef ? { kind: "poly", c: [coef[0], coef[1], coef[2]] } : o.act);
  // With a pruning ramp the starting point is not yet pruned, so it cannot be the best (masked) model.
  const ramping = (o.pruneRampSteps ?? 0) > 0 && o.masks !== undefined;
  let best = cloneParams(p);
  let bestAct = act();
  let bestPpl = ramping ? Infinity : await perplexity(engine, p, act(), validS);
  o.log?.info({ validPpl: bestPpl }, "initial validation perplexity");
  const history = [{ step: 0, validPpl: bestPpl }];
  let bad = 0, step = 0, lossAcc = 0, lossN = 0;

  outer: for (let epoch = 0; epoch < Math.ceil(o.epochs); epoch++) {
    shuffle(positions, rng);
    for (let bi = 0; bi < perEpoch && step < total; bi++) {
      for (let r = 0; r < o.batch; r++) {
        const pos = positions[bi * o.batch + r];
        fillContext(p, trainS.ids, pos, x, r);
        if (xt && o.teacher) fillContext(o.teacher.params, trainS.ids, pos, xt, r);
        y[r] = BigInt(trainS.ids[pos]);
      }
      const g = await engine.step(p, act(), x, y, {
        range: o.range ?? 1e9, lambda: o.lambda ?? 0,
        teacher: o.teacher && xt ? { params: o.teacher.params, x: xt, alpha: o.teacher.alpha } : undefined,
      });
      // Scatter dx into the embedding gradient: row r, context slot k → C[id].
      gC.fill(0);
      for (let r = 0; r < o.batch; r++) {
        const pos = positions[bi * o.batch + r];
        for (let k = 0; k < n - 1; k++) {
          const j = pos - n + 1 + k;
          const id = j >= 0 ? trainS.ids[j] : 0; // padding, as fillContext
          const src = r * I + k * embed, dst = id * embed;
          for (let e = 0; e < embed; e++) gC[dst + e] += g.dx[src + e];
        }
      }
      adam.tick();
      const wd = o.weightDecay ?? 0;
      const ramp = o.pruneRampSteps ?? 0;
      const decay = step < ramp ? 0.01 ** (1 / ramp) : 0;
      adam.update("W1", p.W1, g.dW1, o.masks?.W1, wd, decay);
      adam.update("b1", p.b1, g.db1);
      adam.update("W2", p.W2, g.dW2, o.masks?.W2, wd, decay);
      adam.update("b2", p.b2, g.db2);
      adam.update("C", p.C, gC);
      if (coef && g.dc && o.trainCoefficients) { adam.update("c", coef, g.dc); clampC2(); }
      for (let r = 0; r < o.batch; r++) lossAcc -= g.logp[r];
      lossN += o.batch;
      step++;
      let validPpl: number | undefined;
      if ((step % evalEvery === 0 && !(ramping && step < (o.pruneRampSteps ?? 0))) || step === total) {
        validPpl = await perplexity(engine, p, act(), validS);
        history.push({ step, validPpl });
        o.log?.info({ step, trainPpl: Math.exp(lossAcc / lossN), validPpl, lr: adam.lr, outFrac: g.outFrac, c: coef ? Array.from(coef) : undefined }, "validation");
        lossAcc = 0; lossN = 0;
        if (validPpl < bestPpl) { bestPpl = validPpl; best = cloneParams(p); bestAct = act(); bad = 0; }
        else {
          bad++;
          adam.lr /= 2;
          // Restart from the best point with the smaller step.
          Object.assign(p, cloneParams(best));
          if (coef && bestAct.kind === "poly") coef.set(bestAct.c);
          if (bad > (o.patience ?? 2)) { o.onStep?.(total, total, { loss: 0, validPpl }); break outer; }
        }
      }
      if (step % 200 === 0) o.log?.debug({ step, total, trainPpl: lossN ? Math.exp(lossAcc / lossN) : undefined }, "progress");
      o.onStep?.(step, total, { loss: -g.logp[0], validPpl });
    }
  }
  return { params: best, act: bestAct, validPpl: bestPpl, steps: step, history };
}
