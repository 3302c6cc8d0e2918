#!/usr/bin/env -S npx tsx
// `npm run bench:sampler`: what the sampler settings do to generated text, measured rather than read. The committed
// model's plaintext twin (onnxruntime, the miner's exact ONNX) continues held-out prompts under each setting — the
// MLP alone and the shipped client mixture, at several temperatures and top-k — and every continuation is scored for
// degenerate repetition (a content word that already occurred in the previous 10 words, prompt included; real
// held-out text is the yardstick) and variety (distinct bigrams). Writes bench/results/sampler.json. Run: npm run bench:sampler -- --help
import "../nodes/core/polyfills.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { Command } from "commander";
import { loadBrainModel, loadClientMixture } from "../nodes/client/brain-model.ts";
import { topKOnly, wordDistribution } from "../nodes/client/generate.ts";
import { sample } from "../nodes/model/client-model.ts";
import { createRng } from "../nodes/core/prng.ts";
import { PlaintextReference, samplePrompt, validationWords } from "../nodes/validator/challenge.ts";

const program = new Command()
  .name("bench-sampler")
  .description("Repetition and variety of generated text per sampler setting (MLP alone vs the client mixture)")
  .option("--prompts <n>", "held-out prompts per setting", (v) => Number.parseInt(v, 10), 30)
  .option("--words <n>", "words generated per prompt", (v) => Number.parseInt(v, 10), 25)
  .option("--model-dir <dir>", "model folder", "models")
  .option("--model <name>", "model base name", "brown-lm")
  .option("--seed <n>", "prompt and sampler seed", (v) => Number.parseInt(v, 10), 5)
  .option("--json <file>", "results", "bench/results/sampler.json")
  .parse();
const o = program.opts<{ prompts: number; words: number; modelDir: string; model: string; seed: number; json: string }>();

/** Words a repeat of which says nothing about degeneration: punctuation and the commonest function words. */
const FUNCTION_WORDS = new Set(["the", "of", "and", "a", "to", "in", "is", "that", "it", "was", "for", "he", "as", "with", "on"]);
const isContent = (w: string) => !FUNCTION_WORDS.has(w.toLowerCase()) && /[A-Za-z0-9]/.test(w);
const WINDOW = 10;

/**
 * Over the continuation words (each text = its preceding context, then `from` on the continuation): the share of
 * content words that already occurred among the previous WINDOW words, the context included, and distinct bigrams /
 * bigrams of the continuations.
 */
function textStats(texts: readonly { words: readonly string[]; from: number }[]): { repeatPct: number; distinct2: number } {
  let repeats = 0;
  let content = 0;
  let bigrams = 0;
  const seen = new Set<string>();
  for (const { words: ws, from } of texts) {
    for (let i = from; i < ws.length; i++) {
      if (isContent(ws[i]!)) {
        content++;
        if (ws.slice(Math.max(0, i - WINDOW), i).includes(ws[i]!)) repeats++;
      }
      if (i > from) { bigrams++; seen.add(`${ws[i - 1]} ${ws[i]}`); }
    }
  }
  return { repeatPct: +(100 * repeats / Math.max(1, content)).toFixed(1), distinct2: +(seen.size / Math.max(1, bigrams)).toFixed(3) };
}

const model = loadBrainModel({ dir: o.modelDir, name: o.model });
const loaded = loadClientMixture(model, { dir: o.modelDir });
if (loaded === undefined) throw new Error(`no ${o.model}.mixture.json in ${o.modelDir}`);
const V = model.client.vocab.size;
const unk = model.client.vocab.unkId;
const held = validationWords();
const promptRng = createRng(o.seed);
const prompts = Array.from({ length: o.prompts }, () => samplePrompt(held, 4 + promptRng.int(6), promptRng.next));
const settings = [
  { name: "MLP alone, T 0.8, top-k 40 (before the mixture)", mixture: false, temperature: 0.8, topK: 40 },
  { name: "mixture, T 0.7, top-k 40", mixture: true, temperature: 0.7, topK: 40 },
  { name: "mixture, T 0.8, top-k 40 (default)", mixture: true, temperature: 0.8, topK: 40 },
  { name: "mixture, T 0.9, top-k 20", mixture: true, temperature: 0.9, topK: 20 },
  { name: "mixture, T 1, top-k 40", mixture: true, temperature: 1, topK: 40 },
  { name: "mixture, T 1, no top-k", mixture: true, temperature: 1, topK: V },
];

const reference = await PlaintextReference.create(model);
const rows = [];
try {
  for (const s of settings) {
    const continuations: { words: string[]; from: number }[] = [];
    for (let p = 0; p < prompts.length; p++) {
      const rng = createRng(o.seed * 1_000 + p);
      const context = model.client.encode(prompts[p]!);
      const start = context.length;
      for (let i = 0; i < o.words; i++) {
        const logits = await reference.logits(model.client.contextInput(context));
        const probs = wordDistribution(logits, V, context, s.temperature, s.mixture ? loaded.mixture : undefined);
        probs[unk] = 0;
        context.push(sample(topKOnly(probs, s.topK), rng, [unk]));
      }
      continuations.push({ words: context.map((id) => model.client.vocab.words[id]!), from: start });
    }
    const stats = textStats(continuations);
    rows.push({ ...s, topK: s.topK >= V ? null : s.topK, ...stats,
      examples: continuations.slice(0, 3).map((c) => `${c.words.slice(0, c.from).join(" ")} ‖ ${c.words.slice(c.from).join(" ")}`) });
    console.error(`${s.name}: content-word repeats ${stats.repeatPct}%, distinct-2 ${stats.distinct2}`);
  }
} finally {
  await reference.release();
}
// Real text: the same number of words after a 10-word held-out context, at as many places in the validation split.
const real = textStats(Array.from({ length: o.prompts }, (_, p) => ({ words: held.slice(p * 1_000, p * 1_000 + WINDOW + o.words), from: WINDOW })));

console.log(`\nbench:sampler — ${o.prompts} held-out prompts × ${o.words} words per setting (plaintext twin of the miner's ONNX)`);
console.table([...rows.map((r) => ({ setting: r.name, "content-word repeats % (10-word window)": r.repeatPct, "distinct bigrams": r.distinct2 })),
  { setting: "real held-out text", "content-word repeats % (10-word window)": real.repeatPct, "distinct bigrams": real.distinct2 }]);
mkdirSync(dirname(o.json), { recursive: true });
writeFileSync(o.json, JSON.stringify({
  what: "generated continuations of held-out prompts per sampler setting, from the plaintext twin of the committed ONNX " +
    "(onnxruntime) with and without the shipped client mixture; repeats = content words already among the previous 10 words",
  date: new Date().toISOString(),
  machine: { cores: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)) },
  params: { prompts: o.prompts, words: o.words, seed: o.seed, model: `${o.modelDir}/${o.model}`, window: WINDOW },
  real_text: real,
  rows,
}, null, 2) + "\n");
console.log(`wrote ${o.json}`);
