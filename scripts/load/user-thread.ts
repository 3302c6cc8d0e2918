// One simulated user of bench:load in its own thread, as on its own machine: its key generation and its client-side
// work (encrypt, decrypt, sampling) block only its own event loop. With every user on the bench's main thread, eight
// back-to-back key generations held back every health answer until the last was done, so all users chose miners at
// once, on the same stale health — a herd the bench made, not the selection.
// workerData = { entry, modelDir, modelName }; posts "ready" once the model is loaded and the FHE client warm, then per message
// { session } runs it and posts its SessionOutcome.
import "../../nodes/core/polyfills.ts";
import { parentPort, workerData } from "node:worker_threads";
import { loadBrainModel } from "../../nodes/client/brain-model.ts";
import { createRng } from "../../nodes/core/prng.ts";
import { oneSession, warmClient, type UserSession } from "./session.ts";

const { modelDir, modelName } = workerData as { modelDir: string; modelName: string };
const model = loadBrainModel({ dir: modelDir, name: modelName });
await warmClient(model);
parentPort!.on("message", (msg: { session: UserSession }) => {
  const s = msg.session;
  void oneSession(model, s.miners, s.prompt, s.words, s.seed, createRng(s.pickSeed).next)
    .then((outcome) => parentPort!.postMessage({ outcome }));
});
parentPort!.postMessage("ready");
