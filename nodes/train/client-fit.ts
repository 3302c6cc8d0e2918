/**
 * The client side of a shipped model, fitted after its weights: the mixture weights in the generation regime
 * (mixture-fit.ts) and then the sampler on validation prompts (sampler-fit.ts), both on the validation split only.
 */
import type { KneserNeyTrigram } from "../model/kn.ts";
import { LmMixture, type MixtureConfig } from "../model/mixture.ts";
import { GENERATION_REGIME, generationHistoryStarts } from "../model/regime.ts";
import { REPEAT_WINDOW, textStats } from "../model/sampler.ts";
import { createRng } from "../core/prng.ts";
import { fitMixtureInRegime, type RegimeMixtureFit } from "./mixture-fit.ts";
import { chooseSampler, type SamplerChoice } from "./sampler-fit.ts";

export interface ClientFitInput {
  /** Train counts with validation-tuned discounts, in the model's id order. */
  kn: KneserNeyTrigram;
  train: Int32Array;
  valid: Int32Array;
  /** P_model(valid[i] | valid[from[i] … i−1]) for the regime's `from` over the validation split (0 elsewhere). */
  regimeProbs: (from: Int32Array) => Promise<Float64Array>;
  /** The model's own next-word distribution (no mixture) for a context of ids, length ≥ V. */
  modelDistribution: (context: readonly number[]) => Promise<Float64Array>;
  words: readonly string[];
  unk: number;
  corpusMaxWords?: number;
  /** Sampler grid runs: prompts and words per prompt (defaults 30 × 25, as bench:sampler). */
  prompts?: number;
  continuation?: number;
  seed?: number;
}

export interface ClientFit { config: MixtureConfig; fit: RegimeMixtureFit; sampler: SamplerChoice; seconds: number }

export async function fitClientSide(o: ClientFitInput): Promise<ClientFit> {
  const t0 = performance.now();
  const from = generationHistoryStarts(o.valid.length, GENERATION_REGIME);
  const fit = fitMixtureInRegime(o.kn, o.train, o.valid, from, await o.regimeProbs(from),
    o.corpusMaxWords !== undefined ? { corpusMaxWords: o.corpusMaxWords } : {});
  const mixture = new LmMixture(o.kn, fit.config);
  const { prompts, real } = validationPrompts(o.valid, o.words, o.prompts ?? 30, o.continuation ?? 25, o.seed ?? 11);
  const sampler = await chooseSampler(async (ctx) => mixture.distribution(await o.modelDistribution(ctx), ctx), o.words, prompts, real,
    { continuation: o.continuation ?? 25, seed: o.seed ?? 11, exclude: [o.unk] });
  return { config: { ...fit.config, sampler: sampler.shipped }, fit, sampler, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Prompts of 3–12 words at random places of a split (as users type them: the regime's prompt lengths), and the real
 * text's statistics at as many other places: `continuation` words after a REPEAT_WINDOW-word context.
 */
export function validationPrompts(ids: Int32Array, words: readonly string[], n: number, continuation: number, seed: number):
  { prompts: number[][]; real: ReturnType<typeof textStats>; realTexts: { words: string[]; from: number }[] } {
  const rng = createRng(seed);
  const prompts: number[][] = [];
  for (let k = 0; k < n; k++) {
    const len = GENERATION_REGIME.promptMin + rng.int(GENERATION_REGIME.promptMax - GENERATION_REGIME.promptMin + 1);
    const at = rng.int(ids.length - len);
    prompts.push(Array.from(ids.subarray(at, at + len)));
  }
  const realTexts = Array.from({ length: n }, () => {
    const at = rng.int(ids.length - REPEAT_WINDOW - continuation);
    return { words: Array.from(ids.subarray(at, at + REPEAT_WINDOW + continuation), (id) => words[id]!), from: REPEAT_WINDOW };
  });
  return { prompts, real: textStats(realTexts), realTexts };
}
