// npm run bench:probes [-- --users 160 --real-users 160 --probes 200 --timeline-s 240 --epochs 8 --miners 4 --operator-seats 2 --model tiny|brown]
// Writes bench/results/probes.json: how well an operator holding 2 of 4 seats tells validator probes from users, from
// everything its miners see plus the chain clock (scripts/probes/harness.ts), for users following the workload model
// and users running real clients off it; and what honest miners lose of their probe steps under the miners' default
// limits, with the load average.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { COMPRESSED_WORKLOAD } from "../nodes/client/workload.ts";
import { runProbeBench } from "./probes/harness.ts";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "160" },
    "real-users": { type: "string", default: "160" },
    probes: { type: "string", default: "200" },
    "timeline-s": { type: "string", default: "240" },
    epochs: { type: "string", default: "8" },
    tempo: { type: "string", default: "20" },
    miners: { type: "string", default: "4" },
    "operator-seats": { type: "string", default: "2" },
    hosts: { type: "string", default: "40" },
    model: { type: "string", default: "tiny" },
    "miner-threads": { type: "string", default: "1" },
    // "real": the miners' default queue, BUSY and handshake limits (honest probe-step loss as a miner causes it);
    // "relaxed": requests queue and handshakes wait (what a miner sees, when the machine is too busy for "real")
    "miner-profile": { type: "string", default: "real" },
    seed: { type: "string", default: "1" },
    out: { type: "string", default: "bench/results/probes.json" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log("usage: npm run bench:probes -- [--users N] [--real-users N] [--probes N] [--timeline-s S] [--epochs N] [--tempo N] " +
    "[--miners N] [--operator-seats N] [--hosts N] [--model tiny|brown|tiny-tx|brown-tx] [--miner-threads N] [--miner-profile real|relaxed] [--seed N] [--out FILE]\n" +
    "Trains discriminators to tell validator probes from users on everything an operator of several seats sees; writes bench/results/probes.json.");
  process.exit(0);
}
const options = {
  users: Number(values.users), realUsers: Number(values["real-users"]), probes: Number(values.probes),
  timelineMs: Number(values["timeline-s"]) * 1000, epochs: Number(values.epochs), tempo: Number(values.tempo),
  workload: COMPRESSED_WORKLOAD, model: values.model as "tiny" | "brown" | "tiny-tx" | "brown-tx", miners: Number(values.miners),
  operatorSeats: Number(values["operator-seats"]), minerThreads: Number(values["miner-threads"]), hosts: Number(values.hosts),
  minerProfile: values["miner-profile"] as "real" | "relaxed",
  seed: Number(values.seed), log: (line: string) => console.error(line),
};
const load: number[][] = [];
const sampler = setInterval(() => load.push(loadavg()), 10_000);
console.error(`${options.users} model users + ${options.realUsers} real-client users + ${options.probes} probes over ` +
  `${options.timelineMs / 1000} s, ${options.miners} miners (operator holds ${options.operatorSeats}), model ${options.model}`);
const r = await runProbeBench(options);
clearInterval(sampler);
const { data, ...summary } = r;
mkdirSync("bench/results", { recursive: true });
const dataFile = values.out!.replace(/\.json$/, "-sessions.json");
writeFileSync(dataFile, JSON.stringify(data) + "\n");
const medianLoad = load.map((l) => l[0]!).sort((a, b) => a - b)[load.length >> 1] ?? loadavg()[0]!;
writeFileSync(values.out!, JSON.stringify({
  ...summary, sessionsFile: dataFile, options: { ...options, log: undefined }, cores: cpus().length,
  loadavg1mMedian: +medianLoad.toFixed(2), loadavgEnd: loadavg().map((v) => +v.toFixed(2)), date: new Date().toISOString(),
}, null, 2) + "\n");

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
console.log(`\noperator with ${options.operatorSeats} of ${options.miners} seats saw ${r.sessions.users} model-user, ` +
  `${r.sessions.realUsers} real-client and ${r.sessions.probes} probe sessions (${r.seconds} s, load ${medianLoad.toFixed(1)} on ${cpus().length} cores)`);
console.log(`| view | accuracy (chance 50%, ±${pct(r.report.noise95)} noise) |\n|---|---|`);
console.log(`| overall: every feature but the source address, incl. chain clock + collusion, both populations | ${pct(r.report.overall)} |`);
console.log(`| overall with the source address (127.0.0.x per host) | ${pct(r.withAddress.overall)} |`);
console.log(`| one seat alone, no address | ${pct(r.singleSeat)} |`);
for (const [fam, acc] of Object.entries(r.families)) console.log(`| family: ${fam} | ${pct(acc)} |`);
for (const [pop, v] of Object.entries(r.populations)) {
  console.log(`| users ${pop} (${v.users}) vs probes | ${pct(v.overall)} (with address ${pct(v.withAddress)}) |`);
}
console.log(`\ntop single features: ${r.report.perFeature.slice(0, 6).map((f) => `${f.feature} ${pct(f.accuracy)}`).join(", ")}`);
console.log(`honest miners' probe steps: ${r.honest.probeSteps}, unanswered ${r.honest.unanswered} (${pct(r.honest.lossRate)}), ` +
  `wrong ${r.honest.wrong} (beyond ${r.honest.tolerance} of the logit range; largest error ${r.honest.maxRelError.max.toExponential(2)}, ` +
  `median ${r.honest.maxRelError.median.toExponential(2)})`);
console.log(`\nwritten to ${values.out}`);
