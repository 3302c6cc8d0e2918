/**
 * Choosing a model's sampler (nodes/model/sampler.ts) on VALIDATION prompts: every setting of a small grid continues
 * the same prompts with the same seeds, the continuations are scored for repetition (content words within 10 words)
 * and variety (distinct bigrams) against real validation text, and for fluency — the model's own perplexity of the
 * words it sampled (the mixture at T = 1, i.e. what the model thinks of its text). Among the settings that repeat no
 * more than `maxRepeatPct` and keep ≥ `minDistinctRatio` of real text's distinct bigrams, the most fluent ships.
 * `bench:sampler` re-measures the shipped setting on test prompts.
 */
import { createRng } from "../core/prng.ts";
import { draw, samplingDistribution, textStats, type SamplerSettings, type TextStats } from "../model/sampler.ts";

/** The model's next-word distribution (after the client mixture, T = 1) for a context of word ids. */
export type NextWordDistribution = (context: readonly number[]) => Promise<Float64Array>;

export interface SampledTexts {
  texts: { ids: number[]; from: number }[];
  /** exp(mean −ln P(sampled word)) under the model at T = 1: how likely the model finds its own continuations. */
  samplePpl: number;
}

/** Continues each prompt by `words` words with the sampler; seeds per prompt, so every setting sees the same draws. */
export async function sampleContinuations(next: NextWordDistribution, prompts: readonly (readonly number[])[], words: number,
  s: SamplerSettings, seed: number, exclude: readonly number[]): Promise<SampledTexts> {
  const texts: { ids: number[]; from: number }[] = [];
  let nll = 0, n = 0;
  for (let k = 0; k < prompts.length; k++) {
    const rng = createRng(seed * 1_000 + k);
    const ids = [...prompts[k]!];
    const from = ids.length;
    for (let i = 0; i < words; i++) {
      const p = await next(ids);
      const id = draw(samplingDistribution(p, s, exclude), rng);
      nll -= Math.log(p[id]!);
      n++;
      ids.push(id);
    }
    texts.push({ ids, from });
  }
  return { texts, samplePpl: Math.exp(nll / Math.max(1, n)) };
}

export interface SamplerTargets { maxRepeatPct: number; minDistinctRatio: number }
/** The targets with a margin for the change from validation to test prompts. */
export const SAMPLER_TARGETS: SamplerTargets = { maxRepeatPct: 13, minDistinctRatio: 0.8 };

export const SAMPLER_GRID: SamplerSettings[] = [
  { temperature: 0.8, topK: 40, topP: 1 },
  { temperature: 0.9, topK: 40, topP: 1 },
  { temperature: 1, topK: 40, topP: 1 },
  { temperature: 0.8, topK: null, topP: 0.9 },
  { temperature: 0.9, topK: null, topP: 0.9 },
  { temperature: 1, topK: null, topP: 0.9 },
  { temperature: 0.9, topK: null, topP: 0.95 },
  { temperature: 1, topK: null, topP: 0.95 },
  { temperature: 0.9, topK: null, topP: 1 },
  { temperature: 1, topK: null, topP: 1 },
];

export interface SamplerRow { settings: SamplerSettings; stats: TextStats; samplePpl: number; meets: boolean }

export interface SamplerChoice { shipped: SamplerSettings; rows: SamplerRow[]; real: TextStats; metTargets: boolean }

export async function chooseSampler(next: NextWordDistribution, words: readonly string[], prompts: readonly (readonly number[])[],
  real: TextStats, opts: { continuation: number; seed: number; exclude: readonly number[]; grid?: SamplerSettings[]; targets?: SamplerTargets; margin?: { repeatPct: number; distinct: number } }): Promise<SamplerChoice> {
  const targets = opts.targets ?? SAMPLER_TARGETS;
  const margin = opts.margin ?? { repeatPct: 1, distinct: 0.02 };
  const rows: SamplerRow[] = [];
  for (const settings of opts.grid ?? SAMPLER_GRID) {
    const sampled = await sampleContinuations(next, prompts, opts.continuation, settings, opts.seed, opts.exclude);
    const stats = textStats(sampled.texts.map((t) => ({ words: t.ids.map((id) => words[id]!), from: t.from })));
    const meets = stats.repeatPct <= targets.maxRepeatPct - margin.repeatPct
      && stats.distinct2 >= targets.minDistinctRatio * real.distinct2 + margin.distinct;
    rows.push({ settings, stats, samplePpl: sampled.samplePpl, meets });
  }
  const ok = rows.filter((r) => r.meets);
  // No setting meets both: the one closest to them (repetition first: loops are what readers notice).
  const pick = ok.length > 0
    ? ok.reduce((a, b) => (b.samplePpl < a.samplePpl ? b : a))
    : rows.reduce((a, b) => (b.stats.repeatPct < a.stats.repeatPct ? b : a));
  return { shipped: pick.settings, rows, real, metTargets: ok.length > 0 };
}
