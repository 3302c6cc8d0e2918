#!/usr/bin/env node
// Runs a command on a busy machine: one CPU-bound worker thread per core (or --workers N) spins for the whole run,
// the way other jobs would load a shared 2-core host. The test suite must pass like this, so this is how to check:
//
//   node scripts/busy.mjs --repeat 3 -- npm test      # three loaded runs in a row; stops at the first failure
//   node scripts/busy.mjs --seconds 600               # only the load, for ten minutes (Ctrl-C ends it)
//
// The load average (1 min) is sampled every 10 s and summarised at the end, so a trial's report says how busy the
// machine really was.
import { spawn } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { Worker } from "node:worker_threads";

const HELP = `usage: node scripts/busy.mjs [--workers N] [--repeat K] [--seconds S] [-- command args...]
  --workers N   CPU-bound threads (default: the number of cores, ${availableParallelism()} here)
  --repeat K    run the command K times in a row under the load, stop at the first failure (default 1)
  --seconds S   with no command: keep the machine busy for S seconds (default: until interrupted)`;

function parse(argv) {
  const dash = argv.indexOf("--");
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const command = dash === -1 ? [] : argv.slice(dash + 1);
  const opts = { workers: availableParallelism(), repeat: 1, seconds: Infinity, command };
  for (let i = 0; i < own.length; i++) {
    const flag = own[i];
    if (flag === "--help" || flag === "-h") { console.log(HELP); process.exit(0); }
    const value = Number(own[++i]);
    if (!Number.isFinite(value) || value <= 0) { console.error(`${flag} needs a positive number\n${HELP}`); process.exit(2); }
    if (flag === "--workers") opts.workers = Math.floor(value);
    else if (flag === "--repeat") opts.repeat = Math.floor(value);
    else if (flag === "--seconds") opts.seconds = value;
    else { console.error(`unknown flag ${flag}\n${HELP}`); process.exit(2); }
  }
  return opts;
}

// Integer and float work with no allocation: it keeps a core at 100% without touching memory bandwidth much.
const SPIN = `let x = 0; for (;;) { for (let i = 0; i < 1e7; i++) x = (x * 1103515245 + 12345) % 2147483647; }`;

const opts = parse(process.argv.slice(2));
const workers = Array.from({ length: opts.workers }, () => new Worker(SPIN, { eval: true }));
const loads = [];
const sampler = setInterval(() => loads.push(loadavg()[0]), 10_000);
const t0 = Date.now();

function summary() {
  const sorted = [...loads].sort((a, b) => a - b);
  const med = sorted.length ? sorted[Math.floor(sorted.length / 2)].toFixed(1) : "n/a";
  const max = sorted.length ? sorted[sorted.length - 1].toFixed(1) : "n/a";
  return `${opts.workers} busy threads for ${Math.round((Date.now() - t0) / 1000)} s; load average (1 min) median ${med}, max ${max}`;
}

async function stop(code) {
  clearInterval(sampler);
  await Promise.all(workers.map((w) => w.terminate()));
  console.error(`busy: ${summary()}`);
  process.exit(code);
}
process.on("SIGINT", () => void stop(130));
process.on("SIGTERM", () => void stop(143));

if (opts.command.length === 0) {
  console.error(`busy: ${opts.workers} CPU-bound threads${Number.isFinite(opts.seconds) ? ` for ${opts.seconds} s` : " until interrupted"}`);
  if (Number.isFinite(opts.seconds)) setTimeout(() => void stop(0), opts.seconds * 1000);
} else {
  const results = [];
  let code = 0;
  for (let run = 1; run <= opts.repeat && code === 0; run++) {
    const started = Date.now();
    console.error(`busy: run ${run}/${opts.repeat}: ${opts.command.join(" ")}`);
    code = await new Promise((resolve) => {
      const child = spawn(opts.command[0], opts.command.slice(1), { stdio: "inherit" });
      child.on("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      child.on("error", (err) => { console.error(`busy: ${err.message}`); resolve(127); });
    });
    results.push(`run ${run}: exit ${code} after ${Math.round((Date.now() - started) / 1000)} s`);
  }
  console.error(`busy: ${results.join("; ")}`);
  await stop(code);
}
