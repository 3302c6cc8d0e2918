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
const node = await createCerberusNode();
// Requests queue instead of being refused: this measures what a miner sees, not its capacity on a shared 2-core
// machine (a BUSY refusal would end users' and probes' sessions alike before the miner saw much of them).
const service = new MinerService(node, {
  evaluator, logger: createLogger("bench-miner", "silent"), maxInflight: 64, maxSessions: 512,
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
