// npm run bench:probes [-- --mode before|after|both --users 200 --probes 200 --timeline-s 180 --epochs 6 --model tiny|brown]
// Writes bench/results/probes.json: per-feature and overall accuracy of discriminators telling validator probes from
// users, from everything a miner sees (scripts/probes/harness.ts).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { COMPRESSED_WORKLOAD } from "../nodes/client/workload.ts";
import { discriminate, type Dataset } from "./probes/discriminators.ts";
import { runProbeBench, type ProbeBenchResult } from "./probes/harness.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "after" },
    users: { type: "string", default: "200" },
    probes: { type: "string", default: "200" },
    "timeline-s": { type: "string", default: "180" },
    epochs: { type: "string", default: "6" },
    model: { type: "string", default: "tiny" },
    "miner-threads": { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: "bench/results/probes.json" },
    // recompute the discriminators' report from each mode's saved sessions (no traffic)
    reanalyze: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log("usage: npm run bench:probes [-- --mode before|after|both --users N --probes N --timeline-s S --epochs N " +
    "--model tiny|brown --miner-threads N --seed N --out FILE --reanalyze]\n" +
    "Trains discriminators to tell validator probes from users on everything a miner sees; writes bench/results/probes.json.");
  process.exit(0);
}
const modes = values.mode === "both" ? ["before", "after"] as const : [values.mode as "before" | "after"];
const file = values.out!;
const previous = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> : {};
const results: Record<string, unknown> = { ...previous };
if (values.reanalyze) {
  for (const [mode, r] of Object.entries(previous) as [string, { sessionsFile?: string; report: unknown }][]) {
    if (r.sessionsFile === undefined || !existsSync(r.sessionsFile)) continue;
    r.report = discriminate(JSON.parse(readFileSync(r.sessionsFile, "utf8")) as Dataset);
    console.log(`${mode}: ${JSON.stringify(r.report).slice(0, 200)}…`);
  }
  writeFileSync(file, JSON.stringify(previous, null, 2) + "\n");
  process.exit(0);
}
for (const mode of modes) {
  const epochs = mode === "before" ? Math.max(Number(values.epochs), 20) : Number(values.epochs);
  const options = {
    mode, users: Number(values.users), probes: Number(values.probes), timelineMs: Number(values["timeline-s"]) * 1000,
    epochs, workload: COMPRESSED_WORKLOAD, model: values.model as "tiny" | "brown" | "tiny-tx" | "brown-tx",
    minerThreads: Number(values["miner-threads"]), legacyStepsPerSession: 4, tailFraction: 0.02, seed: Number(values.seed),
    log: (line: string) => console.error(`[${mode}] ${line}`),
  };
  console.error(`[${mode}] ${options.users} users + ${options.probes} probes over ${options.timelineMs / 1000} s, ${epochs} epochs, model ${options.model}`);
  const r: ProbeBenchResult = await runProbeBench(options);
  const { data, ...summary } = r;
  mkdirSync("bench/results", { recursive: true });
  const dataFile = file.replace(/\.json$/, `-${mode}-sessions.json`);
  writeFileSync(dataFile, JSON.stringify(data) + "\n");
  results[mode] = {
    ...summary, sessionsFile: dataFile, workload: COMPRESSED_WORKLOAD, timelineS: options.timelineMs / 1000, epochs, model: options.model,
    loadavg: loadavg().map((v) => +v.toFixed(2)), date: new Date().toISOString(),
  };
  console.log(`\n${mode}: miner saw ${r.sessions.users} user and ${r.sessions.probes} probe sessions; overall ${pct(r.report.overall)} (logistic ${pct(r.report.logisticRegression)}, boosted trees ` +
    `${pct(r.report.boostedTrees)}; ±${pct(r.report.noise95)} is noise) on a balanced ${r.report.samples.users} + ${r.report.samples.probes}, ${r.seconds} s`);
  for (const f of r.report.perFeature) console.log(`  ${f.feature.padEnd(24)} ${pct(f.accuracy)}`);
}
mkdirSync("bench/results", { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
console.log(`\nwritten to ${file}`);

function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}
