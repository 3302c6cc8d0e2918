#!/usr/bin/env -S npx tsx
// Transport benchmark for /cerberus/infer/1.0.0 on 127.0.0.1: key upload time, per-step latency, wire overhead.
// It measures the NETWORK LAYER ONLY: the miner's evaluator returns fixed-size opaque outputs without FHE work, so
// the numbers are what the protocol adds on top of the FHE engine. Run: npm run bench:net -- --help
import "../nodes/core/polyfills.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { createCerberusNode } from "../nodes/net/node.ts";
import { MinerService } from "../nodes/miner/service.ts";
import { InferClient } from "../nodes/client/transport.ts";
import { createLogger } from "../nodes/core/log.ts";
import type { EvalSession, MinerEvaluator } from "../nodes/net/evaluator.ts";

const program = new Command()
  .name("bench-net")
  .description("Benchmark the Cerberus wire protocol over libp2p on 127.0.0.1 (transport only, no FHE work)")
  .option("--steps <n>", "steps per scenario", (v) => Number.parseInt(v, 10), 100)
  .option("--keys-mib <list>", "key upload sizes in MiB, comma-separated", "8,16")
  .option("--in-kib <n>", "input ciphertext size per step, KiB (seeded CKKS ct at N=8192: ~217)", (v) => Number(v), 217)
  .option("--out-kib <n>", "size of each output ciphertext, KiB (one prime at N=8192: ~131)", (v) => Number(v), 131)
  .option("--out-count <n>", "output ciphertexts per step (16,384 logits / 4,096 slots = 4)", (v) => Number(v), 4)
  .option("--json <file>", "where to write the results", "bench/results/net.json")
  .parse();
const opts = program.opts<{ steps: number; keysMib: string; inKib: number; outKib: number; outCount: number; json: string }>();

const planId = "b".repeat(64);
/** Returns `count` outputs of `bytes` each, without computing anything: isolates the transport. */
class FixedSizeEvaluator implements MinerEvaluator {
  readonly planId = planId;
  constructor(private readonly count: number, private readonly bytes: number) {}
  async openSession(): Promise<EvalSession> {
    const outputs = Array.from({ length: this.count }, () => randomBytes(this.bytes));
    return { evaluate: async () => outputs, close: () => {} };
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

const miner = await createCerberusNode();
const clientNode = await createCerberusNode({ listen: [] });
const service = new MinerService(miner, {
  evaluator: new FixedSizeEvaluator(opts.outCount, opts.outKib * 1024), hotkey: "0x00000000000000000000000000000000000be4c4",
  logger: createLogger("bench-miner", "warn"),
});
await service.start();
const address = { peerId: miner.peerId.toString(), multiaddrs: miner.getMultiaddrs().map(String) };
const client = new InferClient(clientNode);

const keySizes = opts.keysMib.split(",").map(Number);
const bar = new cliProgress.SingleBar({ format: "{bar} {value}/{total} {task}" }, cliProgress.Presets.shades_classic);
bar.start(keySizes.length * (1 + opts.steps), 0, { task: "" });
const rows: Record<string, number | string>[] = [];
for (const mib of keySizes) {
  bar.update({ task: `open with ${mib} MiB of keys` });
  const keyBytes = mib * 1024 * 1024;
  const keys = { planId, galoisKeys: randomBytes(keyBytes - 1024), relinKeys: randomBytes(1024) };
  const session = await client.openSession(address, keys);
  bar.increment();
  const input = randomBytes(opts.inKib * 1024);
  const ms: number[] = [];
  for (let i = 0; i < opts.steps; i++) {
    bar.update({ task: `steps (${mib} MiB session)` });
    const r = await session.step([input]);
    ms.push(r.stats.ms);
    bar.increment();
  }
  await session.close();
  const payloadUp = input.byteLength;
  const payloadDown = opts.outCount * opts.outKib * 1024;
  rows.push({
    keys_mib: mib,
    open_ms: Math.round(session.stats.open.ms),
    open_bytes_up: session.stats.open.bytesUp,
    open_overhead_bytes: session.stats.open.bytesUp - keyBytes,
    step_ms_median: +quantile(ms, 0.5).toFixed(2),
    step_ms_p95: +quantile(ms, 0.95).toFixed(2),
    bytes_up_per_step: Math.round(session.stats.bytesUp / session.stats.steps),
    bytes_down_per_step: Math.round(session.stats.bytesDown / session.stats.steps),
    overhead_up_per_step: Math.round(session.stats.bytesUp / session.stats.steps - payloadUp),
    overhead_down_per_step: Math.round(session.stats.bytesDown / session.stats.steps - payloadDown),
    round_trips_per_step: session.stats.roundTrips / session.stats.steps,
  });
}
bar.stop();
await service.stop();
await clientNode.stop();
await miner.stop();

console.log("\nCerberus transport benchmark (libp2p TCP+noise+yamux on 127.0.0.1, no FHE work; shared, loaded machine)");
console.table(rows);
mkdirSync(dirname(opts.json), { recursive: true });
writeFileSync(opts.json, JSON.stringify({
  what: "transport only: fixed-size opaque outputs, no FHE work",
  machine: "shared 2-core machine, loaded by parallel work; numbers are indicative",
  date: new Date().toISOString(),
  params: { steps: opts.steps, in_kib: opts.inKib, out_kib: opts.outKib, out_count: opts.outCount },
  rows,
}, null, 2));
console.log(`wrote ${opts.json}`);
