#!/usr/bin/env -S npx tsx
// `npm run bench:fhe-tx`: the transformer's round plans measured on real ciphertexts — rounds per word vs levels vs
// ring dimension vs latency vs bytes vs perplexity — for the plan choice the Brain pins. Client and miner in one
// process (no network: bench:load measures that), one thread. Writes bench/results/fhe-tx.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { loadBrownSplits } from "../nodes/model/corpus.ts";
import { parseTransformerClient } from "../nodes/model/transformer-client.ts";
import { generationHistoryStarts } from "../nodes/model/regime.ts";
import { regimeSegments } from "../nodes/train/transformer-trainer.ts";
import { pplOfLogs, runEncrypted } from "./lib/tx-encrypted.ts";
import { median } from "../nodes/core/stats.ts";

const PLANS = [
  { name: "2 rounds (scores | rest)", options: { params: "n8192-l5", cuts: [] as string[] } },
  { name: "3 rounds (+ refresh of the attention mix)", options: { params: "n8192-l4", cuts: ["u"] } },
  { name: "4 rounds (+ the square on the client)", options: { params: "n8192-l2", cuts: ["u", "h"] } },
  { name: "3 rounds (the square on the client)", options: { params: "n8192-l3s", cuts: ["h"] } },
];

const program = new Command()
  .name("bench-fhe-tx")
  .description("Round plans of the transformer Brain on real ciphertexts: rounds, levels, ring, latency, bytes, keys, perplexity")
  .option("--model-dir <dir>", "model folder", "models")
  .option("--name <name>", "model base name", "brown-tx")
  .option("--words <n>", "test words (generation regime) per plan", (v) => Number.parseInt(v, 10), 96)
  .option("--plans <list>", "plan indexes to run (comma-separated)", "0,1,2,3")
  .option("--json <file>", "results", "bench/results/fhe-tx.json")
  .parse();
const o = program.opts<{ modelDir: string; name: string; words: number; plans: string; json: string }>();
process.env.CERBERUS_LOG_LEVEL ??= "warn";

const onnx = new Uint8Array(readFileSync(join(o.modelDir, `${o.name}.onnx`)));
const clientJson = readFileSync(join(o.modelDir, `${o.name}.client.json`));
const client = parseTransformerClient(clientJson, new Uint8Array(readFileSync(join(o.modelDir, `${o.name}.client.bin`))));
const splits = loadBrownSplits();
const test = splits.test.map((id) => client.vocab.idOf(splits.vocab.words[id]!));
// Segments long enough to run into the window's restart: the regime's own segments (prompt 3–12 + up to 48 words).
const segments = regimeSegments(generationHistoryStarts(test.length)).slice(0, 64);
const rows = [];
for (const idx of o.plans.split(",").map(Number)) {
  const p = PLANS[idx]!;
  const started = performance.now();
  const run = await runEncrypted(onnx, client, p.options, test, segments, o.words, (n) => { if (n % 16 === 0) process.stderr.write(`${p.name}: ${n}/${o.words}\n`); });
  const steady = run.bytesUp.map((u, i) => u + run.bytesDown[i]!).filter((_, i) => i > 0);
  const row = {
    plan: p.name, options: p.options, rounds: run.plan.rounds, levels: run.plan.levels, params: run.plan.params, ring: run.plan.ring,
    galois_steps: run.plan.galoisSteps, key_mib: +(run.keyBytes / 2 ** 20).toFixed(2), keygen_ms: Math.round(run.keygenMs),
    words: run.words, prefills: run.prefills,
    ms_per_word_median: Math.round(median(run.wordMs)),
    cpu_ms_per_word_median: Math.round(median(run.wordCpuMs)),
    ms_per_word_16plus_rows_median: run.longContextMs.length === 0 ? null : Math.round(median(run.longContextMs)),
    ms_per_round_median: run.roundMs[0]!.map((_, r) => Math.round(median(run.roundMs.map((x) => x[r]!)))),
    kib_up_per_word_median: +(median(run.bytesUp) / 1024).toFixed(1),
    kib_down_per_word_median: +(median(run.bytesDown) / 1024).toFixed(1),
    kib_up_down_per_word_max: +(Math.max(...steady) / 1024).toFixed(1),
    kib_up_down_per_word_mean: +(run.bytesUp.reduce((a, b, i) => a + b + run.bytesDown[i]!, 0) / run.words / 1024).toFixed(1),
    cache_state_mib: +(run.cacheBytes / 2 ** 20).toFixed(2),
    ppl_encrypted: pplOfLogs(run.logp),
    ppl_plaintext_onnx_same_words: pplOfLogs(run.logpPlain),
    max_abs_error_scores: run.maxScoreError,
    max_abs_error_logits: run.maxLogitError,
    seconds: Math.round((performance.now() - started) / 1000),
    loadavg_1m_at_end: +loadavg()[0]!.toFixed(2),
  };
  rows.push(row);
  console.error(JSON.stringify(row));
}
console.log(`\nbench:fhe-tx — ${o.name}, ${o.words} test words per plan (generation regime), client + miner in one process, one thread; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`);
console.table(rows.map((r) => ({
  plan: r.plan, "rounds/word": r.rounds, levels: r.levels, ring: r.ring, params: r.params, "keys MiB": r.key_mib,
  "ms/word p50": r.ms_per_word_median, "CPU ms/word p50": r.cpu_ms_per_word_median, "ms/word ≥16 rows": r.ms_per_word_16plus_rows_median, "KiB up+down/word (mean)": r.kib_up_down_per_word_mean,
  "ppl enc": +r.ppl_encrypted.toFixed(2), "ppl plain": +r.ppl_plaintext_onnx_same_words.toFixed(2),
})));
mkdirSync(dirname(o.json), { recursive: true });
writeFileSync(o.json, JSON.stringify({ what: "transformer round plans on real node-seal ciphertexts (client + RoundEvaluator in one process, one thread, no network)",
  date: new Date().toISOString(), model: `${o.modelDir}/${o.name}`, machine: { cores: cpus().length }, rows }, null, 2) + "\n");
console.log(`wrote ${o.json}`);
