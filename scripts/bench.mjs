#!/usr/bin/env node
// `npm run bench`: runs every area's benchmark in one go (one machine state, so ratios between rows are fair),
// then prints one summary of the JSON files they wrote under bench/results/.
// Usage: npm run bench [-- name ...]   e.g. `npm run bench -- gas fhe`; `--help` lists the benchmarks.
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";

const BENCHES = [
  { name: "gas", script: "bench:gas", result: "bench/results/gas.json" },
  { name: "kn", script: "bench:kn", result: "bench/results/kn.json" },
  { name: "model", script: "bench:model", result: "bench/results/model.json" },
  { name: "sampler", script: "bench:sampler", result: "bench/results/sampler.json" },
  { name: "model-tx", script: "bench:model", args: ["--", "--transformer"], result: "bench/results/model-tx.json" },
  { name: "sampler-tx", script: "bench:sampler", args: ["--", "--model", "brown-tx"], result: "bench/results/sampler.json" },
  { name: "fhe", script: "bench:fhe", result: "bench/results/fhe.json" },
  { name: "fhe-tx", script: "bench:fhe-tx", result: "bench/results/fhe-tx.json" },
  { name: "tolerance-tx", script: "bench:tolerance", result: "bench/results/tolerance-brown-tx.json" },
  { name: "fhe-memory", script: "bench:fhe-memory", result: "bench/results/fhe-memory.json" },
  { name: "net", script: "bench:net", result: "bench/results/net.json" },
  { name: "shaping", script: "bench:shaping", result: "bench/results/shaping.json" },
  { name: "probes", script: "bench:probes", result: "bench/results/probes.json" },
  { name: "load", script: "bench:load", result: "bench/results/load.json" },
  { name: "load-tx", script: "bench:load", args: ["--", "--model", "brown-tx", "--levels", "1,4,8", "--words", "32", "--json", "bench/results/load-tx.json", "--svg", "bench/results/load-tx.svg"], result: "bench/results/load-tx.json" },
];

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  console.log("usage: npm run bench [-- <name> ...]\n\nbenchmarks (all by default, in this order):");
  for (const b of BENCHES) console.log(`  ${b.name.padEnd(12)} npm run ${b.script}${b.args ? " " + b.args.join(" ") : ""} → ${b.result}`);
  process.exit(0);
}
const unknown = args.filter((a) => !BENCHES.some((b) => b.name === a));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; see --help`);
  process.exit(2);
}
const scripts = JSON.parse(readFileSync("package.json", "utf8")).scripts ?? {};
const selected = BENCHES.filter((b) => args.length === 0 || args.includes(b.name));
const failures = [];
for (const bench of selected) {
  if (!scripts[bench.script]) {
    console.error(`skipping ${bench.name}: package.json has no "${bench.script}" script`);
    failures.push(bench.name);
    continue;
  }
  console.log(`\n=== ${bench.name} (npm run ${bench.script}) ===`);
  const run = spawnSync("npm", ["run", "--silent", bench.script, ...(bench.args ?? [])], { stdio: "inherit" });
  if (run.status !== 0) failures.push(bench.name);
}
console.log("\n=== summary ===");
for (const bench of selected) {
  const state = existsSync(bench.result) ? `wrote ${bench.result}` : "no result file";
  console.log(`${bench.name.padEnd(12)} ${failures.includes(bench.name) ? "FAILED" : "ok    "} ${state}`);
}
process.exit(failures.length === 0 ? 0 : 1);
