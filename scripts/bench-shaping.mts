#!/usr/bin/env -S npx tsx
// `npm run bench:shaping`: what shaping requests into sessions costs users (nodes/client/workload.ts: sessions of
// the model's lengths until the request is covered, the last padded). For requests of several lengths: the
// sessions and steps per request (median, mean, p95), the padding, and the bytes that makes on each Brain with the
// per-step and per-key bytes bench:load measured (load.json, load-tx.json). Pure sampling: no network, no FHE.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import { COMPRESSED_WORKLOAD, USER_WORKLOAD, shapeRequest } from "../nodes/client/workload.ts";
import { createRng } from "../nodes/core/prng.ts";
import { median, quantile } from "../nodes/core/stats.ts";

const program = new Command()
  .name("bench-shaping")
  .description("Sessions, padding steps and bytes a request costs once shaped by the workload model")
  .option("--requests <n>", "draws per request length", (v) => Number.parseInt(v, 10), 20_000)
  .option("--lengths <list>", "request lengths (words)", "1,5,10,20,37,48,100")
  .option("--seed <n>", "shaping draws", (v) => Number.parseInt(v, 10), 1)
  .option("--json <file>", "results", "bench/results/shaping.json")
  .parse();
const o = program.opts<{ requests: number; lengths: string; seed: number; json: string }>();

/** Bytes a step and a key upload cost on a Brain, from a committed bench:load run (its lone-user row). */
function brainCost(file: string): { file: string; stepBytes: number; keyBytes: number } | undefined {
  if (!existsSync(file)) return undefined;
  const row = (JSON.parse(readFileSync(file, "utf8")) as { rows: { bytes_up_per_word: number; bytes_down_per_word: number; key_upload_bytes_per_session: number }[] }).rows[0];
  if (row === undefined) return undefined;
  return { file, stepBytes: row.bytes_up_per_word + row.bytes_down_per_word, keyBytes: row.key_upload_bytes_per_session };
}
const brains = { mlp: brainCost("bench/results/load.json"), transformer: brainCost("bench/results/load-tx.json") };

const rng = createRng(o.seed);
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const rows = [];
for (const [modelName, model] of [["user", USER_WORKLOAD], ["compressed", COMPRESSED_WORKLOAD]] as const) {
  for (const words of o.lengths.split(",").map((s) => Number.parseInt(s, 10))) {
    const sessions: number[] = [];
    const steps: number[] = [];
    for (let k = 0; k < o.requests; k++) {
      const r = shapeRequest(words, model, rng.next);
      sessions.push(r.sessions.length);
      steps.push(words + r.padding);
    }
    const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
    const meanSessions = mean(sessions), meanSteps = mean(steps);
    const mib = (c: { stepBytes: number; keyBytes: number } | undefined, s: number, st: number) =>
      c === undefined ? null : +((s * c.keyBytes + st * c.stepBytes) / 2 ** 20).toFixed(1);
    rows.push({
      workload: modelName, words,
      sessions: { median: median(sessions), mean: +meanSessions.toFixed(2), p95: quantile(sorted(sessions), 0.95) },
      steps: { median: median(steps), mean: +meanSteps.toFixed(2), p95: quantile(sorted(steps), 0.95) },
      step_overhead: +(meanSteps / words).toFixed(2),
      mib_mean: { mlp: mib(brains.mlp, meanSessions, meanSteps), transformer: mib(brains.transformer, meanSessions, meanSteps) },
      mib_unshaped: { mlp: mib(brains.mlp, 1, words), transformer: mib(brains.transformer, 1, words) },
    });
  }
}

console.log("| workload | words asked | sessions: median / mean / p95 | steps: median / mean / p95 | steps ÷ words | MiB up + down, MLP: shaped (one session) | transformer: shaped (one session) |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.workload} | ${r.words} | ${r.sessions.median} / ${r.sessions.mean} / ${r.sessions.p95} | ${r.steps.median} / ${r.steps.mean} / ${r.steps.p95} | ` +
    `${r.step_overhead} | ${r.mib_mean.mlp ?? "—"} (${r.mib_unshaped.mlp ?? "—"}) | ${r.mib_mean.transformer ?? "—"} (${r.mib_unshaped.transformer ?? "—"}) |`);
}
mkdirSync(dirname(o.json), { recursive: true });
writeFileSync(o.json, JSON.stringify({
  what: "cost of shaping requests into sessions of the workload model's lengths (nodes/client/workload.ts shapeRequest)",
  date: new Date().toISOString(), params: { requests: o.requests, seed: o.seed, workloads: { user: USER_WORKLOAD, compressed: COMPRESSED_WORKLOAD } },
  bytes_from: brains, rows,
}, null, 2) + "\n");
console.log(`wrote ${o.json}`);
