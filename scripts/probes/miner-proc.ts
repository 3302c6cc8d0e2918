// A benchmark's miner in its own process, so that the clients' key generation does not stall the miner's event loop
// (and its noise handshakes). argv = model dir, model name, worker threads, profile:
//  - "probes" (default): requests queue instead of being refused, and every request event (MinerService.onRequest)
//    is printed as one JSON line (bench:probes measures what a miner sees, not its capacity);
//  - "load": the miner's defaults (queue, BUSY, totals) with only the per-address caps lifted (bench:load);
//  - "load-strict": the miner's defaults, per-address caps included (bench:load --no-one-host);
//  - "probes-real": the "load" profile (miner defaults: queue, BUSY, totals) with every request event printed, so
//    bench:probes measures what a miner sees and what honest miners lose under their real limits.
// The first line printed is the miner's address as JSON; then, every 250 ms, {"rss": bytes} for the load profile.
// Stops when stdin closes.
import "../../nodes/core/polyfills.ts";
import { loadBrainModel, mlpModel } from "../../nodes/client/brain-model.ts";
import { createLogger } from "../../nodes/core/log.ts";
import { WorkerPoolEvaluator } from "../../nodes/fhe/index.ts";
import { RoundWorkerEvaluator } from "../../nodes/fhe/round-worker.ts";
import { ONE_HOST_NODE_LIMITS, oneHostServiceLimits } from "../../nodes/miner/one-host.ts";
import { MinerService } from "../../nodes/miner/service.ts";
import { createCerberusNode } from "../../nodes/net/node.ts";

const [dir, name, threads, profile = "probes", split = "split"] = process.argv.slice(2) as [string, string, string, string?, string?];
const model = loadBrainModel({ dir, name });
// A transformer's round plan: sessions live on the worker holding their cache (RoundWorkerEvaluator).
const evaluator = model.kind === "transformer"
  ? await RoundWorkerEvaluator.create(model.onnxBytes, model.planOptions, { threads: Number(threads) })
  : await WorkerPoolEvaluator.create(model.onnxBytes, mlpModel(model).planOptions, { threads: Number(threads), split: split === "split" });
// Every simulated user and probe dials from 127.0.0.1: the per-address caps that protect a real miner from one host
// would throttle the bench itself, so they are lifted here (never in a miner's defaults).
const strict = profile === "load-strict";
// "probes" also waits out slow handshakes (a starved event loop on a busy test machine must not lose sessions).
const node = await createCerberusNode(strict ? {} : { ...ONE_HOST_NODE_LIMITS, ...(profile === "probes" ? { maxConnections: 4_096,
  maxConnectionsPerAddress: 4_096, maxPendingPerAddress: 1_024, inboundUpgradeTimeoutMs: 60_000 } : {}) });
const service = new MinerService(node, {
  evaluator, logger: createLogger("bench-miner", "silent"),
  // The bench's clients dial the miner's address without a seat, so no hotkey is checked; any stated one will do.
  hotkey: "0x000000000000000000000000000000000000b0b0",
  ...(profile === "probes"
    // Requests queue instead of being refused: this measures what a miner sees, not its capacity on a shared 2-core
    // machine (a BUSY refusal would end users' and probes' sessions alike before the miner saw much of them).
    ? { maxInflight: 64, maxSessions: 512, maxQueueWaitMs: 600_000, ...oneHostServiceLimits({ maxSessions: 512, maxInflight: 64 }),
      onRequest: (e) => process.stdout.write(JSON.stringify(e) + "\n") }
    : strict ? {} : oneHostServiceLimits()),
  ...(profile === "probes-real" ? { onRequest: (e) => process.stdout.write(JSON.stringify(e) + "\n") } : {}),
});
await service.start();
process.stdout.write(JSON.stringify({
  peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()),
}) + "\n");
// Resident memory of the whole process (main thread + FHE workers), sampled for the load bench's peak.
const rss = profile.startsWith("load")
  ? setInterval(() => process.stdout.write(JSON.stringify({ rss: process.memoryUsage.rss(), stats: "stats" in evaluator ? evaluator.stats() : null }) + "\n"), 250)
  : undefined;
process.stdin.resume();
process.stdin.on("end", () => {
  void (async () => {
    if (rss !== undefined) clearInterval(rss);
    await service.stop();
    await node.stop();
    await evaluator.dispose();
    process.exit(0);
  })();
});
