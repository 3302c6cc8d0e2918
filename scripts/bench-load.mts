#!/usr/bin/env -S npx tsx
// `npm run bench:load`: serving many users at once. Miners in their own processes (FHE worker threads, real libp2p
// on 127.0.0.1, real node-seal, the miner's default queue and BUSY rules) and 1, 4, 8, 16 concurrent user sessions of
// 20 words of the committed model (fixed prompts and seeds: the same workload on every run). Writes
// bench/results/load.json and bench/results/load.svg and prints the table. Run: npm run bench:load -- --help
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { Command } from "commander";
import { runLoadBench } from "./load/run.ts";
import { loadSvg } from "./load/svg.ts";

const ints = (v: string) => v.split(",").map((x) => Number.parseInt(x, 10));
const program = new Command()
  .name("bench-load")
  .description("Aggregate throughput and per-word latency of real encrypted sessions against several miners")
  .option("--levels <list>", "concurrent user sessions per level, comma-separated", "1,4,8,16")
  .option("--words <n>", "words per session", (v) => Number.parseInt(v, 10), 20)
  .option("--miners <n>", "miner processes", (v) => Number.parseInt(v, 10), 3)
  .option("--threads <n>", "FHE worker threads per miner", (v) => Number.parseInt(v, 10), 2)
  .option("--no-split", "never split a lone step over two workers (for comparison)")
  .option("--no-one-host",
    "keep the per-address caps (sessions, in-flight, connections per remote IP) at their defaults: every simulated " +
    "user dials from 127.0.0.1, so with them the bench measures one host's quota, not a miner. By default they are " +
    "lifted to the miner's totals (nodes/miner/one-host.ts); totals, queue and BUSY rules stay at their defaults")
  .option("--model-dir <dir>", "model folder", "models")
  .option("--model <name>", "model base name", "brown-lm")
  .option("--seed <n>", "workload seed (prompts, samplers, miner choice)", (v) => Number.parseInt(v, 10), 1)
  .option("--stagger-ms <n>", "delay between consecutive users' starts within a level", (v) => Number.parseInt(v, 10), 300)
  .option("--json <file>", "results", "bench/results/load.json")
  .option("--svg <file>", "plot of latency vs concurrency", "bench/results/load.svg")
  .parse();
const o = program.opts<{ levels: string; words: number; miners: number; threads: number; split: boolean; oneHost: boolean;
  modelDir: string; model: string; seed: number; staggerMs: number; json: string; svg: string }>();

const started = new Date();
const loadAtStart = loadavg();
const rows = await runLoadBench({
  levels: ints(o.levels), words: o.words, miners: o.miners, threads: o.threads, split: o.split, oneHost: o.oneHost, modelDir: o.modelDir,
  modelName: o.model, seed: o.seed, staggerMs: o.staggerMs, log: (line) => console.error(line),
}, loadavg);

console.log(`\nbench:load — ${o.miners} miners × ${o.threads} FHE workers, sessions of ${o.words} words, ${cpus().length} cores`);
console.table(rows.map((r) => ({
  users: r.users, "words/s": r.words_per_s, "p50 ms": r.ms_per_word.p50, "p95 ms": r.ms_per_word.p95, "p99 ms": r.ms_per_word.p99,
  "p50 after 1st": r.ms_per_word_after_first.p50, errors: r.errors, "BUSY waits": r.busy_waits, failovers: r.failovers,
  "KiB up/word": Math.round(r.bytes_up_per_word / 1024), "KiB down/word": Math.round(r.bytes_down_per_word / 1024),
  "miner RSS MiB": r.miner_rss_peak_mib.map((x) => Math.round(x)).join("/"), "split/whole": `${r.split_steps}/${r.whole_steps}`,
  "miner ms split/whole": `${r.miner_split_step_ms_mean ?? "–"}/${r.miner_whole_step_ms_mean ?? "–"}`,
  load: r.loadavg_before[0],
})));
const eight = rows.find((r) => r.users === 8);
const one = rows.find((r) => r.users === 1);
const targets = {
  zero_errors: rows.every((r) => r.errors === 0),
  eight_users_4_words_per_s: eight === undefined ? null : eight.words_per_s >= 4,
  eight_users_p95_le_3s: eight === undefined ? null : eight.ms_per_word.p95 <= 3_000,
  lone_user_le_250ms: one === undefined ? null : one.ms_per_word.p50 <= 250,
};
console.log("targets:", JSON.stringify(targets));
mkdirSync(dirname(o.json), { recursive: true });
writeFileSync(o.json, JSON.stringify({
  what: "real encrypted generate sessions of the committed model against miner processes with FHE worker threads, " +
    "libp2p on 127.0.0.1; per-address caps lifted (one host), every other limit at its default",
  date: started.toISOString(),
  machine: { cores: cpus().length, loadavg_at_start: loadAtStart.map((x) => +x.toFixed(2)),
    loadavg_at_end: loadavg().map((x) => +x.toFixed(2)) },
  params: { levels: ints(o.levels), words: o.words, miners: o.miners, threads: o.threads, split: o.split, one_host: o.oneHost, seed: o.seed, stagger_ms: o.staggerMs,
    model: `${o.modelDir}/${o.model}` },
  targets,
  rows,
}, null, 2) + "\n");
writeFileSync(o.svg, loadSvg(rows, `${o.miners} miners × ${o.threads} workers, ${cpus().length} cores, ${started.toISOString().slice(0, 16)}Z, load ${rows[0]?.loadavg_before[0] ?? "?"}`));
console.log(`wrote ${o.json} and ${o.svg}`);
