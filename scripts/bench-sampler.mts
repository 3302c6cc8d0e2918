#!/usr/bin/env -S npx tsx
// `npm run bench:sampler`: what a model's shipped sampler does to generated text, measured on TEST prompts (the sampler
// was chosen on validation prompts by `npm run train`). The committed model's plaintext twin (onnxruntime on the
// miner's exact ONNX) continues prompts of 3–12 test words under the shipped setting and a few others; every
// continuation is scored for degenerate repetition (a content word that already occurred in the previous 10 words,
// prompt included; real test text is the yardstick) and variety (distinct bigrams). Beside it, the generation-regime
// perplexity (regime.ts) of the distribution actually sampled — tempered, truncated, `<unk>` removed — on test text.
// Writes the model's entry of bench/results/sampler.json. Run: npm run bench:sampler -- --help
import "../nodes/core/polyfills.ts";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { loadLmMixture } from "../nodes/model/lm.ts";
import { PerplexityAccumulator } from "../nodes/model/perplexity.ts";
import { GENERATION_REGIME, generationHistoryStarts } from "../nodes/model/regime.ts";
import { LEGACY_SAMPLER, samplingDistribution, textStats, type SamplerSettings } from "../nodes/model/sampler.ts";
import { SAMPLER_TARGETS, sampleContinuations } from "../nodes/train/sampler-fit.ts";
import { validationPrompts } from "../nodes/train/client-fit.ts";
import { loadPlaintextLm } from "./lib/plaintext-lm.ts";

const program = new Command()
  .name("bench-sampler")
  .description("Repetition and variety of generated text, and the perplexity of the distribution sampled, per sampler setting")
  .option("--prompts <n>", "test prompts per setting", (v) => Number.parseInt(v, 10), 30)
  .option("--words <n>", "words generated per prompt", (v) => Number.parseInt(v, 10), 25)
  .option("--ppl-words <n>", "test words (generation regime) scored for the sampled distribution's perplexity", (v) => Number.parseInt(v, 10), 20_000)
  .option("--model-dir <dir>", "model folder", "models")
  .option("--model <name>", "model base name", "brown-lm")
  .option("--seed <n>", "prompt and sampler seed", (v) => Number.parseInt(v, 10), 5)
  .option("--json <file>", "results (one entry per model)", "bench/results/sampler.json")
  .parse();
const o = program.opts<{ prompts: number; words: number; pplWords: number; modelDir: string; model: string; seed: number; json: string }>();

const lm = await loadPlaintextLm(o.modelDir, o.model);
const mixture = loadLmMixture(join(o.modelDir, `${o.model}.mixture.json`), lm.client);
const shipped = mixture.config.sampler;
if (shipped === undefined) throw new Error(`${o.model}.mixture.json has no sampler settings (npm run train -- --refit-client)`);
const words = lm.client.vocab.words;
const unk = lm.client.vocab.unkId;
const splits = loadBrownSplits();
const testIds = splits.test.map((id) => lm.client.vocab.idOf(splits.vocab.words[id]!));
const { prompts, real, realTexts } = validationPrompts(testIds, words, o.prompts, o.words, o.seed);

const mixed = async (ctx: readonly number[]) => mixture.distribution(await lm.distribution(ctx), ctx);
const alone = (ctx: readonly number[]) => lm.distribution(ctx);
const settings: { name: string; mixture: boolean; s: SamplerSettings }[] = [
  { name: `${lm.kind} alone, T 0.8, top-k 40 (the old default)`, mixture: false, s: LEGACY_SAMPLER },
  { name: "mixture, T 0.8, top-k 40 (the old default)", mixture: true, s: LEGACY_SAMPLER },
  { name: "mixture, T 1, no truncation (the distribution scored)", mixture: true, s: { temperature: 1, topK: null, topP: 1 } },
  { name: `mixture, SHIPPED: ${describe(shipped)}`, mixture: true, s: shipped },
];

const rows = [];
try {
  for (const { name, mixture: mix, s } of settings) {
    const sampled = await sampleContinuations(mix ? mixed : alone, prompts, o.words, s, o.seed, [unk]);
    const texts = sampled.texts.map((t) => ({ words: t.ids.map((id) => words[id]!), from: t.from }));
    const stats = textStats(texts);
    rows.push({ name, mixture: mix, ...s, ...stats, samplePpl: +sampled.samplePpl.toFixed(2),
      examples: texts.slice(0, 3).map((c) => `${c.words.slice(0, c.from).join(" ")} ‖ ${c.words.slice(c.from).join(" ")}`) });
    console.error(`${name}: content-word repeats ${stats.repeatPct}%, distinct-2 ${stats.distinct2}, sample ppl ${sampled.samplePpl.toFixed(1)}`);
  }

  // The generation-regime perplexity of what is actually sampled: q = the shipped sampler's distribution (tempered,
  // truncated, <unk> removed), over the first --ppl-words predicted test words; beside it the mixture itself (T = 1).
  const from = generationHistoryStarts(testIds.length);
  const accQ = new PerplexityAccumulator(), accQCovered = new PerplexityAccumulator(), accP = new PerplexityAccumulator(), accPNoUnk = new PerplexityAccumulator();
  let scored = 0, zero = 0, unkWords = 0;
  for (let i = 0; i < testIds.length && scored < o.pplWords; i++) {
    if (from[i]! < 0) continue;
    scored++;
    const ctx = Array.from(testIds.subarray(from[i]!, i));
    const p = await mixed(ctx);
    const w = testIds[i]!;
    accP.add(Math.log(p[w]!));
    if (w === unk) { unkWords++; continue; }
    accPNoUnk.add(Math.log(p[w]!));
    const q = samplingDistribution(p, shipped, [unk]);
    if (q[w]! > 0) { accQCovered.add(Math.log(q[w]!)); } else zero++;
  }
  const covered = scored - unkWords - zero;
  const sampledPpl = {
    scored_words: scored,
    unk_words: unkWords,
    outside_kept_set: zero,
    coverage_of_non_unk_pct: +(100 * covered / Math.max(1, scored - unkWords)).toFixed(2),
    /** exp(mean −ln q) over every non-<unk> word: infinite as soon as one test word is outside the kept set. */
    ppl_sampled: zero > 0 ? Infinity : accQCovered.result().ppl,
    ppl_sampled_covered_words: accQCovered.result().ppl,
    ppl_mixture_all_words: accP.result().ppl,
    ppl_mixture_non_unk_words: accPNoUnk.result().ppl,
  };
  // The same real text with <unk> not counted as a content word (samples never contain it).
  const realNoUnkStats = textStats(realTexts, { unkAsContent: false });
  const result = {
    what: "continuations of 3–12-word test prompts per sampler setting, from the plaintext twin of the committed model with the shipped client mixture; " +
      "repeats = content words already among the previous 10 words; the shipped setting was chosen on validation prompts by npm run train",
    date: new Date().toISOString(),
    machine: { cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)) },
    params: { prompts: o.prompts, words: o.words, seed: o.seed, model: `${o.modelDir}/${o.model}`, kind: lm.kind, regime: GENERATION_REGIME },
    targets: { max_repeat_pct: SAMPLER_TARGETS.maxRepeatPct, min_distinct2: +(SAMPLER_TARGETS.minDistinctRatio * real.distinct2).toFixed(3) },
    real_text: real,
    real_text_unk_not_content: realNoUnkStats,
    shipped,
    shipped_meets: (() => { const r = rows[rows.length - 1]!; return r.repeatPct <= SAMPLER_TARGETS.maxRepeatPct && r.distinct2 >= SAMPLER_TARGETS.minDistinctRatio * real.distinct2; })(),
    sampled_distribution_regime: sampledPpl,
    rows,
  };
  console.log(`\nbench:sampler ${o.model} (${lm.kind}) — ${o.prompts} test prompts × ${o.words} words per setting (plaintext twin of the committed model)`);
  console.table([...rows.map((r) => ({ setting: r.name, "repeats %": r.repeatPct, "distinct bigrams": r.distinct2, "sample ppl": r.samplePpl })),
    { setting: "real test text", "repeats %": real.repeatPct, "distinct bigrams": real.distinct2, "sample ppl": NaN }]);
  console.log(`targets: repeats ≤ ${SAMPLER_TARGETS.maxRepeatPct}%, distinct bigrams ≥ ${result.targets.min_distinct2}; shipped meets: ${result.shipped_meets}`);
  console.log(`sampled distribution, generation regime, ${scored} test words: ppl ${sampledPpl.ppl_sampled.toFixed(1)} ` +
    `(${sampledPpl.coverage_of_non_unk_pct}% of non-<unk> words inside the kept set; over those ${sampledPpl.ppl_sampled_covered_words.toFixed(1)}); ` +
    `the mixture itself ${sampledPpl.ppl_mixture_all_words.toFixed(1)} (all words), ${sampledPpl.ppl_mixture_non_unk_words.toFixed(1)} (non-<unk>)`);
  const all = existsSync(o.json) ? JSON.parse(readFileSync(o.json, "utf8")) as Record<string, unknown> : {};
  const models = (typeof all.models === "object" && all.models !== null ? all.models : {}) as Record<string, unknown>;
  models[o.model] = result;
  mkdirSync(dirname(o.json), { recursive: true });
  writeFileSync(o.json, JSON.stringify({ models }, null, 2) + "\n");
  console.log(`wrote ${o.json} (${o.model})`);
} finally {
  await lm.release();
}

function describe(s: SamplerSettings): string {
  return `T ${s.temperature}${s.topK !== null ? `, top-k ${s.topK}` : ""}${s.topP < 1 ? `, top-p ${s.topP}` : ""}${s.topK === null && s.topP === 1 ? ", no truncation" : ""}`;
}
