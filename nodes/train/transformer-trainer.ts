import type { Logger } from "../core/log.ts";
import { createRng } from "../core/prng.ts";
import { PerplexityAccumulator } from "../model/perplexity.ts";
import { windowStart } from "../model/window.ts";
import { Adam } from "./adam.ts";
import type { TransformerBatch, TransformerEngine } from "./transformer-engine.ts";
import { cloneTransformer, fillTokenShift, graphTensors, modelWidth, scatterTokenShift, tensor, type TransformerParams, type TransformerTensor } from "./transformer.ts";

/** A generation-regime segment (regime.ts): history from `start`, predicted positions [first, end). */
export interface Segment { start: number; first: number; end: number }

export function regimeSegments(from: Int32Array): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < from.length; i++) {
    if (from[i]! < 0) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last.start === from[i] && last.end === i) last.end = i + 1;
    else out.push({ start: from[i]!, first: i, end: i + 1 });
  }
  return out;
}

/** One evaluation sequence: inputs start … start+count−1 (history from historyStart), predicting each next word. */
interface EvalSequence { start: number; count: number; historyStart: number; scoredFrom: number }

/**
 * The sequences a client's sessions run for the segments: input position k of a segment (0-based from its history
 * start) attends to windowStart(k) … k (window.ts), so every window start is one sequence and every target is scored
 * in the sequence of its input position.
 */
export function regimeSequences(segments: readonly Segment[], window: number): EvalSequence[] {
  const out: EvalSequence[] = [];
  for (const seg of segments) {
    let cur: EvalSequence | undefined;
    for (let i = seg.start + 1; i < seg.end; i++) {
      const k = i - 1 - seg.start;
      const start = seg.start + windowStart(k, window);
      // Inputs start … i−1; only the targets whose own window this is are scored here (earlier ones were scored in
      // the window before, with the history that window held).
      if (cur === undefined || cur.start !== start) {
        cur = { start, count: 0, historyStart: seg.start, scoredFrom: Math.max(seg.first, i) };
        out.push(cur);
      }
      cur.count = i - start;
    }
  }
  return out;
}

/**
 * ln P(ids[i] | what the client's session holds) for every predicted position of the segments (the generation regime
 * with the window policy), batched through an evaluation engine (seq ≥ window). NaN at positions not predicted.
 */
export async function regimeLogProbs(engine: TransformerEngine, p: TransformerParams, ids: Int32Array, segments: readonly Segment[]): Promise<Float64Array> {
  const d = modelWidth(p.shape), B = engine.batch, T = engine.seq;
  const out = new Float64Array(ids.length).fill(Number.NaN);
  const seqs = regimeSequences(segments, p.shape.window);
  const b: TransformerBatch = { X: new Float32Array(B * T * d), y: new BigInt64Array(B * T), weight: new Float32Array(B * T) };
  for (let s0 = 0; s0 < seqs.length; s0 += B) {
    b.X.fill(0); b.y.fill(0n); b.weight.fill(0);
    const rows = seqs.slice(s0, s0 + B);
    rows.forEach((q, r) => {
      if (q.count > T) throw new Error(`a sequence of ${q.count} positions does not fit ${T}`);
      fillTokenShift(p, ids, q.start, q.count, q.historyStart, b.X, r * T * d);
      for (let t = 0; t < q.count; t++) {
        const target = q.start + t + 1;
        b.y[r * T + t] = BigInt(ids[target]!);
        if (target >= q.scoredFrom) b.weight[r * T + t] = 1;
      }
    });
    const { logp } = await engine.evaluate(p, b);
    rows.forEach((q, r) => {
      for (let t = 0; t < q.count; t++) {
        const target = q.start + t + 1;
        if (target >= q.scoredFrom) out[target] = logp[r * T + t]!;
      }
    });
  }
  return out;
}

export function pplOf(logp: Float64Array): number {
  const acc = new PerplexityAccumulator();
  for (const v of logp) if (!Number.isNaN(v)) acc.add(v);
  return acc.result().ppl;
}

export interface TransformerTrainOptions {
  epochs: number;
  lr: number;
  /** Linear warm-up steps, then cosine decay to `minLrFraction` of lr at the end. */
  warmup: number;
  minLrFraction: number;
  evalEvery: number;
  weightDecay?: number;
  /** FHE form: λ·Σ relu(|h| − R)² on the FFN pre-activation. */
  penalty?: { range: number; lambda: number };
  /** Tensors left as they are (e.g. the polynomial's coefficients, or nothing). */
  frozen?: readonly TransformerTensor[];
  /** Pruning masks (1 = keep): masked weights decay over `pruneRampSteps`, then stay exactly zero. */
  masks?: Partial<Record<TransformerTensor, Uint8Array>>;
  pruneRampSteps?: number;
  /** Called after each update (e.g. to keep the polynomial's fold shift bounded). */
  afterUpdate?: (p: TransformerParams) => void;
  seed: number;
  log?: Logger;
  onStep?: (done: number, total: number, info: { loss: number; validPpl?: number }) => void;
}

export interface TransformerTrainResult { params: TransformerParams; validPpl: number; steps: number; history: { step: number; validPpl: number }[] }

/**
 * Adam on random windows of the train stream (each window = `seq` positions, every position scored; the token shift
 * reads the words before the window, as a client does after its cache restarts), validated in the generation regime on
 * `validSegments`; the best validation point is returned.
 */
export async function trainTransformer(engine: TransformerEngine, evalEngine: TransformerEngine, init: TransformerParams,
  train: Int32Array, valid: Int32Array, validSegments: readonly Segment[], o: TransformerTrainOptions): Promise<TransformerTrainResult> {
  const p = cloneTransformer(init);
  const d = modelWidth(p.shape), B = engine.batch, T = engine.seq;
  const rng = createRng(o.seed);
  const adam = new Adam(o.lr);
  const perEpoch = Math.floor((train.length - 1) / (B * T));
  const total = Math.max(1, Math.round(perEpoch * o.epochs));
  const batch: TransformerBatch = { X: new Float32Array(B * T * d), y: new BigInt64Array(B * T), weight: new Float32Array(B * T).fill(1) };
  const starts = new Int32Array(B);
  const gC = new Float32Array(tensor(p, "C").length);
  const frozen = new Set(o.frozen ?? []);
  const ramp = o.pruneRampSteps ?? 0;
  const ramping = ramp > 0 && o.masks !== undefined;
  const evaluate = async () => pplOf(await regimeLogProbs(evalEngine, p, valid, validSegments));
  let best = cloneTransformer(p);
  let bestPpl = ramping ? Infinity : await evaluate();
  o.log?.info({ validPpl: bestPpl }, "initial validation perplexity (generation regime)");
  const history = [{ step: 0, validPpl: bestPpl }];
  let lossAcc = 0, lossN = 0;
  for (let step = 0; step < total; step++) {
    for (let r = 0; r < B; r++) {
      const s = 1 + rng.int(train.length - T - 2);
      starts[r] = s;
      fillTokenShift(p, train, s, T, 0, batch.X, r * T * d);
      for (let t = 0; t < T; t++) batch.y[r * T + t] = BigInt(train[s + t + 1]!);
    }
    const g = await engine.step(p, batch, o.penalty ?? { range: 1e9, lambda: 0 }, rng.next);
    gC.fill(0);
    for (let r = 0; r < B; r++) scatterTokenShift(p, train, starts[r]!, T, 0, g.gX, r * T * d, gC);
    const warm = Math.min(1, (step + 1) / Math.max(1, o.warmup));
    const progress = step / total;
    adam.lr = o.lr * warm * (o.minLrFraction + (1 - o.minLrFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    adam.tick();
    const decay = step < ramp ? 0.01 ** (1 / ramp) : 0;
    const wd = o.weightDecay ?? 0;
    if (!frozen.has("C")) adam.update("C", tensor(p, "C"), gC);
    for (const k of graphTensors(p.form)) {
      if (frozen.has(k)) continue;
      const matrix = ["Wq", "Wk", "Wv", "Wo", "A", "Wov", "W1", "W2", "U"].includes(k);
      adam.update(k, tensor(p, k), g.grads[k]!, o.masks?.[k], matrix ? wd : 0, decay);
    }
    o.afterUpdate?.(p);
    lossAcc += g.loss;
    lossN++;
    let validPpl: number | undefined;
    if (((step + 1) % o.evalEvery === 0 && !(ramping && step + 1 < ramp)) || step + 1 === total) {
      validPpl = await evaluate();
      history.push({ step: step + 1, validPpl });
      o.log?.info({ step: step + 1, total, trainLoss: lossAcc / lossN, validPpl, lr: adam.lr }, "validation");
      lossAcc = 0; lossN = 0;
      if (validPpl < bestPpl) { bestPpl = validPpl; best = cloneTransformer(p); }
    }
    o.onStep?.(step + 1, total, { loss: g.loss, ...(validPpl !== undefined ? { validPpl } : {}) });
  }
  return { params: best, validPpl: bestPpl, steps: total, history };
}
