/**
 * Small, dependency-free binary classifiers for the probe benchmark (the "adversary" of the GAN): per-feature
 * decision stumps, L2-regularised logistic regression and gradient-boosted depth-2 trees, all scored by stratified
 * k-fold cross-validation. No npm package in the allowed list covers boosted trees and cross-validation in plain
 * ESM TypeScript without native code, and these fit 400 × 30 samples in milliseconds.
 */
import { createRng, type Rng } from "../../nodes/core/prng.ts";

export interface FeatureSpec {
  name: string;
  /** Categorical features are compared by value (majority label per value), not by threshold. */
  categorical?: boolean;
}

export interface Dataset {
  features: FeatureSpec[];
  /** rows × features */
  x: number[][];
  /** 1 = validator probe, 0 = user */
  y: number[];
}

type Model = (row: number[]) => number; // P(probe)
type Trainer = (x: number[][], y: number[]) => Model;

/** Stratified k-fold split indices, shuffled with a seeded PRNG. */
export function stratifiedFolds(y: readonly number[], k: number, rng: Rng): number[][] {
  const folds: number[][] = Array.from({ length: k }, () => []);
  for (const label of [0, 1]) {
    const idx = y.flatMap((v, i) => (v === label ? [i] : []));
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    idx.forEach((v, i) => folds[i % k]!.push(v));
  }
  return folds;
}

/** Mean held-out accuracy of `train` over stratified k folds, repeated with `repeats` different splits. */
export function crossValidate(x: number[][], y: number[], train: Trainer, k = 5, seed = 1, repeats = 3): number {
  let sum = 0;
  for (let r = 0; r < repeats; r++) sum += crossValidateOnce(x, y, train, k, seed + r);
  return sum / repeats;
}

function crossValidateOnce(x: number[][], y: number[], train: Trainer, k: number, seed: number): number {
  const folds = stratifiedFolds(y, k, createRng(seed));
  let correct = 0;
  let total = 0;
  for (let f = 0; f < k; f++) {
    const test = new Set(folds[f]);
    const tx: number[][] = [];
    const ty: number[] = [];
    x.forEach((row, i) => { if (!test.has(i)) { tx.push(row); ty.push(y[i]!); } });
    const model = train(tx, ty);
    for (const i of folds[f]!) {
      correct += (model(x[i]!) >= 0.5 ? 1 : 0) === y[i] ? 1 : 0;
      total += 1;
    }
  }
  return total === 0 ? 0.5 : correct / total;
}

function candidateThresholds(values: number[], max: number): number[] {
  const u = [...new Set(values)].sort((a, b) => a - b);
  const mids: number[] = [];
  for (let i = 1; i < u.length; i++) mids.push((u[i - 1]! + u[i]!) / 2);
  if (mids.length <= max) return mids;
  return Array.from({ length: max }, (_, q) => mids[Math.floor(((q + 0.5) / max) * mids.length)]!);
}

/** A one-feature stump: threshold (numeric) or majority per value (categorical). */
export function stumpTrainer(feature: number, categorical: boolean): Trainer {
  return (x, y) => {
    const prior = y.reduce((a, b) => a + b, 0) / Math.max(1, y.length);
    if (categorical) {
      const counts = new Map<number, [number, number]>();
      x.forEach((r, i) => {
        const c = counts.get(r[feature]!) ?? [0, 0];
        c[y[i]!]! += 1;
        counts.set(r[feature]!, c);
      });
      return (r) => {
        const c = counts.get(r[feature]!);
        return c === undefined ? prior : c[1] > c[0] ? 1 : c[1] < c[0] ? 0 : prior;
      };
    }
    const values = x.map((r) => r[feature]!);
    let best = { acc: Math.max(prior, 1 - prior), t: Infinity, above: prior >= 0.5 ? 1 : 0 };
    for (const t of candidateThresholds(values, 64)) {
      let aboveProbe = 0;
      let belowUser = 0;
      values.forEach((v, i) => {
        if (v > t && y[i] === 1) aboveProbe++;
        if (v <= t && y[i] === 0) belowUser++;
      });
      const acc = (aboveProbe + belowUser) / values.length;
      if (acc > best.acc) best = { acc, t, above: 1 };
      if (1 - acc > best.acc) best = { acc: 1 - acc, t, above: 0 };
    }
    const { t, above } = best;
    return (r) => (r[feature]! > t ? above : 1 - above);
  };
}

/** Logistic regression on standardised features, full-batch gradient descent with L2. */
export function logisticTrainer(iterations = 400, rate = 0.2, l2 = 0.01): Trainer {
  return (x, y) => {
    const d = x[0]?.length ?? 0;
    const mean = new Array<number>(d).fill(0);
    const sd = new Array<number>(d).fill(0);
    for (const r of x) r.forEach((v, j) => { mean[j]! += v / x.length; });
    for (const r of x) r.forEach((v, j) => { sd[j]! += (v - mean[j]!) ** 2 / x.length; });
    const z = (r: number[]) => r.map((v, j) => (sd[j]! > 0 ? (v - mean[j]!) / Math.sqrt(sd[j]!) : 0));
    const xs = x.map(z);
    const w = new Array<number>(d).fill(0);
    let b = 0;
    const p = (r: number[]) => 1 / (1 + Math.exp(-(b + r.reduce((s, v, j) => s + v * w[j]!, 0))));
    for (let it = 0; it < iterations; it++) {
      const gw = new Array<number>(d).fill(0);
      let gb = 0;
      xs.forEach((r, i) => {
        const e = p(r) - y[i]!;
        gb += e / xs.length;
        r.forEach((v, j) => { gw[j]! += (e * v) / xs.length; });
      });
      b -= rate * gb;
      w.forEach((_, j) => { w[j]! -= rate * (gw[j]! + l2 * w[j]!); });
    }
    return (r) => p(z(r));
  };
}

interface Tree { feature: number; t: number; left: Tree | number; right: Tree | number }

function fitTree(x: number[][], g: number[], h: number[], idx: number[], depth: number, thresholds: number[][], minLeaf: number): Tree | number {
  const leaf = () => {
    const sg = idx.reduce((s, i) => s + g[i]!, 0);
    const sh = idx.reduce((s, i) => s + h[i]!, 0);
    return sg / (sh + 1);
  };
  if (depth === 0 || idx.length < 2 * minLeaf) return leaf();
  let best: { gain: number; feature: number; t: number } | undefined;
  const G = idx.reduce((s, i) => s + g[i]!, 0);
  const H = idx.reduce((s, i) => s + h[i]!, 0);
  for (let f = 0; f < thresholds.length; f++) {
    for (const t of thresholds[f]!) {
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (const i of idx) if (x[i]![f]! <= t) { gl += g[i]!; hl += h[i]!; nl++; }
      if (nl < minLeaf || idx.length - nl < minLeaf) continue;
      const gain = gl * gl / (hl + 1) + (G - gl) ** 2 / (H - hl + 1) - G * G / (H + 1);
      if (best === undefined || gain > best.gain) best = { gain, feature: f, t };
    }
  }
  if (best === undefined) return leaf();
  const { feature, t } = best;
  const l = idx.filter((i) => x[i]![feature]! <= t);
  const r = idx.filter((i) => x[i]![feature]! > t);
  return { feature, t, left: fitTree(x, g, h, l, depth - 1, thresholds, minLeaf), right: fitTree(x, g, h, r, depth - 1, thresholds, minLeaf) };
}

function predictTree(tree: Tree | number, r: number[]): number {
  let t: Tree | number = tree;
  while (typeof t !== "number") t = r[t.feature]! <= t.t ? t.left : t.right;
  return t;
}

/** Gradient-boosted trees on the logistic loss (Newton leaves, XGBoost-style gain), depth 2 by default. */
export function boostedTreesTrainer(rounds = 60, depth = 2, rate = 0.15, minLeaf = 5): Trainer {
  return (x, y) => {
    const d = x[0]?.length ?? 0;
    const thresholds = Array.from({ length: d }, (_, f) => candidateThresholds(x.map((r) => r[f]!), 16));
    const prior = Math.min(0.99, Math.max(0.01, y.reduce((a, b) => a + b, 0) / Math.max(1, y.length)));
    const base = Math.log(prior / (1 - prior));
    const score = new Array<number>(x.length).fill(base);
    const trees: (Tree | number)[] = [];
    const all = x.map((_, i) => i);
    for (let m = 0; m < rounds; m++) {
      const p = score.map((s) => 1 / (1 + Math.exp(-s)));
      const g = p.map((pi, i) => y[i]! - pi);
      const h = p.map((pi) => pi * (1 - pi));
      const tree = fitTree(x, g, h, all, depth, thresholds, minLeaf);
      trees.push(tree);
      x.forEach((r, i) => { score[i]! += rate * predictTree(tree, r); });
    }
    return (r) => 1 / (1 + Math.exp(-(base + trees.reduce<number>((s, t) => s + rate * predictTree(t, r), 0))));
  };
}

export interface DiscriminatorReport {
  /** Sessions used (balanced: equal numbers). */
  samples: { users: number; probes: number };
  /** Cross-validated accuracy of a stump on each feature alone. */
  perFeature: { feature: string; accuracy: number }[];
  logisticRegression: number;
  boostedTrees: number;
  /** The best all-feature model's accuracy (the number the target is about). */
  overall: number;
  /** Half-width of a 95% interval of an accuracy measured on this many samples at 50%. */
  noise95: number;
}

/** The same number of users and probes (the majority class subsampled, seeded), so that chance is 50%. */
export function balance(data: Dataset, seed = 1): Dataset {
  const rng = createRng(seed);
  const byLabel = [0, 1].map((label) => data.y.flatMap((v, i) => (v === label ? [i] : [])));
  const n = Math.min(byLabel[0]!.length, byLabel[1]!.length);
  const keep = byLabel.flatMap((idx) => {
    const a = [...idx];
    for (let i = a.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  }).sort((a, b) => a - b);
  return { features: data.features, x: keep.map((i) => data.x[i]!), y: keep.map((i) => data.y[i]!) };
}

/** Cross-validated accuracies on a balanced subsample of `data` (chance = 50%). */
export function discriminate(all: Dataset, folds = 5, seed = 1): DiscriminatorReport {
  const data = balance(all, seed);
  const { x, y } = data;
  const perFeature = data.features.map((f, j) => ({
    feature: f.name, accuracy: round(crossValidate(x, y, stumpTrainer(j, f.categorical === true), folds, seed)),
  })).sort((a, b) => b.accuracy - a.accuracy);
  // Categorical features enter the all-feature models as their raw code (trees can still isolate a value).
  const lr = round(crossValidate(x, y, logisticTrainer(), folds, seed));
  const gbt = round(crossValidate(x, y, boostedTreesTrainer(), folds, seed));
  const probes = y.filter((v) => v === 1).length;
  return {
    samples: { users: y.length - probes, probes }, perFeature, logisticRegression: lr, boostedTrees: gbt,
    overall: Math.max(lr, gbt), noise95: round(1.96 * Math.sqrt(0.25 / Math.max(1, y.length))),
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
