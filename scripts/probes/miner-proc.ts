// The probe benchmark's miner, in its own process so that the clients' key generation does not stall the miner's
// event loop (and its noise handshakes): argv = model dir, model name, worker threads. Prints its address as one
// JSON line, then every request event (MinerService.onRequest) as one JSON line each; stops when stdin closes.
import "../../nodes/core/polyfills.ts";
import { loadBrainModel } from "../../nodes/client/brain-model.ts";
import { createLogger } from "../../nodes/core/log.ts";
import { WorkerPoolEvaluator } from "../../nodes/fhe/index.ts";
import { MinerService } from "../../nodes/miner/service.ts";
import { createCerberusNode } from "../../nodes/net/node.ts";

const [dir, name, threads] = process.argv.slice(2) as [string, string, string];
const model = loadBrainModel({ dir, name });
const evaluator = await WorkerPoolEvaluator.create(model.onnxBytes, model.planOptions, { threads: Number(threads) });
// Every simulated user and probe dials from 127.0.0.1: the per-address caps that protect a real miner from one host
// would throttle the bench itself, so they are lifted here (never in a miner's defaults).
const node = await createCerberusNode({ maxConnections: 4_096, maxConnectionsPerAddress: 4_096, maxPendingPerAddress: 1_024,
  inboundConnectionsPerSecondPerHost: 1_000 });
// Requests queue instead of being refused: this measures what a miner sees, not its capacity on a shared 2-core
// machine (a BUSY refusal would end users' and probes' sessions alike before the miner saw much of them).
const service = new MinerService(node, {
  evaluator, logger: createLogger("bench-miner", "silent"), maxInflight: 64, maxSessions: 512,
  maxSessionsPerAddress: 512, maxInflightPerAddress: 64, maxPendingPerAddress: 512,
  // The bench's clients dial the miner's address without a seat, so no hotkey is checked; any stated one will do.
  hotkey: "0x000000000000000000000000000000000000b0b0",
  onRequest: (e) => process.stdout.write(JSON.stringify(e) + "\n"),
});
await service.start();
process.stdout.write(JSON.stringify({
  peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map((m) => m.decapsulateCode(421).toString()),
}) + "\n");
process.stdin.resume();
process.stdin.on("end", () => {
  void (async () => {
    await service.stop();
    await node.stop();
    await evaluator.dispose();
    process.exit(0);
  })();
});
