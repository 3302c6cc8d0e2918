/**
 * The probe discriminator harness (`npm run bench:probes`; a small run in test/nodes/net/probes.test.ts): a real
 * libp2p miner on 127.0.0.1 with real node-seal evaluation, simulated users drawn from the user workload model and
 * validator probes, everything the miner sees logged per request, then cross-validated discriminators trained to
 * tell probes from users.
 *
 * Modes: "after" runs the validators' probe generator (nodes/validator/probes.ts, the code `ValidatorAgent.score`
 * runs). "before" reproduces the validators of main before issue 12 (legacySession below): each validator probes
 * from its one registered identity, one session per miner at the start of every epoch, a fixed number of steps of
 * random held-out contexts, each checked against the reference between steps.
 */
import "../../nodes/core/polyfills.ts";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBrainModel, mlpModel, type BrainModel } from "../../nodes/client/brain-model.ts";
import { FailoverSession } from "../../nodes/client/failover.ts";
import { generate } from "../../nodes/client/generate.ts";
import { InferClient, type MinerAddress } from "../../nodes/client/transport.ts";
import { sampleArrivals, sampleSession, type WorkloadModel } from "../../nodes/client/workload.ts";
import { CerberusError } from "../../nodes/core/errors.ts";
import { AllMinersFailedError } from "../../nodes/net/errors.ts";
import { FheClient } from "../../nodes/fhe/index.ts";
import type { RequestEvent } from "../../nodes/miner/service.ts";
import { loadBrownSplits } from "../../nodes/model/corpus.ts";
import { createRng, type Rng } from "../../nodes/core/prng.ts";
import { writeTinyLm } from "../../nodes/train/tiny-lm.ts";
import { writeTinyTransformer } from "../../nodes/train/tiny-tx.ts";
import { createCerberusNode, type CerberusNode } from "../../nodes/net/node.ts";
import { compare, PlaintextReference, samplePrompt, validationWords } from "../../nodes/validator/challenge.ts";
import { planProbes, runProbes } from "../../nodes/validator/probes.ts";
import { isCorrect } from "../../nodes/validator/scoring.ts";
import { discriminate, type Dataset, type DiscriminatorReport } from "./discriminators.ts";
import { datasetOf, sessionsFrom } from "./features.ts";

export interface ProbeBenchOptions {
  mode: "before" | "after";
  users: number;
  probes: number;
  /** Wall time over which users arrive and epochs run (time-compressed: seconds, not hours). */
  timelineMs: number;
  epochs: number;
  workload: WorkloadModel;
  /**
   * "tiny": a small random LM of the real format (default); "brown": the committed model; "tiny-tx" / "brown-tx": the
   * transformer Brain's (a small random one of its format, or the committed one).
   */
  model: "tiny" | "brown" | "tiny-tx" | "brown-tx";
  minerThreads: number;
  /** "before" mode: steps per probe session (main's challengesPerMiner default 4); validators = probes / epochs. */
  legacyStepsPerSession: number;
  /** Share of each epoch kept free of probe starts before the commit (the validator's probeTailMs / epoch). */
  tailFraction: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ProbeBenchResult {
  mode: string;
  report: DiscriminatorReport;
  /** Every session's feature row and label (1 = probe), for re-analysis. */
  data: Dataset;
  sessions: { users: number; probes: number; userFailures: number; probeStepsCorrect: number; probeSteps: number };
  seconds: number;
}

export async function runProbeBench(o: ProbeBenchOptions): Promise<ProbeBenchResult> {
  const started = performance.now();
  const log = o.log ?? (() => {});
  const rng = createRng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), "cerberus-probes-"));
  const { vocab, train } = loadBrownSplits();
  let model: BrainModel;
  if (o.model === "tiny") {
    writeTinyLm(dir, { words: vocab.words.slice(0, 600), name: "tiny-lm" });
    model = loadBrainModel({ dir, name: "tiny-lm" });
  } else if (o.model === "tiny-tx") {
    writeTinyTransformer(dir, { words: vocab.words.slice(0, 600), name: "tiny-tx" });
    model = loadBrainModel({ dir, name: "tiny-tx" });
  } else if (o.model === "brown-tx") {
    model = loadBrainModel({ name: "brown-tx" });
  } else {
    model = loadBrainModel({});
  }
  const events: RequestEvent[] = [];
  const { miner, stop: stopMiner } = await spawnMiner(model.name.startsWith("tiny-") ? dir : "models", model.name, o.minerThreads, events);
  const reference = await PlaintextReference.create(model);
  const heldOut = validationWords();
  const userText = Array.from(train.subarray(0, 200_000), (id) => vocab.words[id]!);
  const userPeers = new Set<string>();
  const epochMs = o.timelineMs / o.epochs;
  const t0 = Date.now();
  const p0 = performance.now();
  const at = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, p0 + ms - performance.now())));
  let userFailures = 0;
  let probeSteps = 0;
  let probeStepsCorrect = 0;
  const legacyNodes: CerberusNode[] = [];

  try {
    // Users: Poisson arrivals over the whole timeline, each session from a fresh identity (as `cerberus generate`).
    const users = sampleArrivals(o.users, o.timelineMs, rng.next).map(async (startMs) => {
      const shape = sampleSession(o.workload, rng.next);
      const prompt = samplePrompt(userText, 3 + rng.int(10), rng.next);
      await at(startMs);
      const userNode = await createCerberusNode({ listen: [] });
      userPeers.add(userNode.peerId.toString());
      try {
        await generate({ model, infer: new InferClient(userNode), miners: [miner], prompt, words: shape.words, thinkMs: shape.thinkMs });
      } catch (err) {
        if (!(err instanceof CerberusError)) throw err;
        userFailures += 1;
        const detail = err instanceof AllMinersFailedError ? err.attempts.map((a) => a.message).join("; ") : err.message;
        log(`user session failed: ${err.code} ${detail.slice(0, 300)}`);
      } finally {
        await userNode.stop();
      }
    });

    const probes: Promise<void>[] = [];
    if (o.mode === "after") {
      const perEpoch = Math.ceil(o.probes / o.epochs);
      for (let e = 0; e < o.epochs; e++) {
        const plan = planProbes([{ uid: 0, ...miner }], {
          sessionsPerMiner: perEpoch, windowMs: epochMs * (1 - o.tailFraction), workload: o.workload, heldOut, random: rng.next,
        });
        probes.push(at(e * epochMs).then(async () => {
          const out = await runProbes(plan, { model, reference });
          const steps = out.get(0) ?? [];
          probeSteps += steps.length;
          probeStepsCorrect += steps.filter((s) => isCorrect(s)).length;
        }));
      }
    } else {
      // Enough validators that each probes once per epoch and the total is `probes`.
      for (let v = 0; v < Math.ceil(o.probes / o.epochs); v++) {
        const vNode = await createCerberusNode({ listen: [] });
        legacyNodes.push(vNode);
        const infer = new InferClient(vNode);
        for (let e = 0; e < o.epochs; e++) {
          // a validator polls for the new epoch: it starts within its poll interval (500 ms) of the boundary
          probes.push(at(e * epochMs + rng.next() * 500).then(async () => {
            const r = await legacySession(model, reference, infer, miner, heldOut, o.legacyStepsPerSession, rng);
            probeSteps += r.steps;
            probeStepsCorrect += r.correct;
          }));
        }
      }
    }
    await Promise.all([...users, ...probes]);
    log(`traffic done after ${((performance.now() - p0) / 1000).toFixed(0)} s: ${events.length} requests at the miner`);
  } finally {
    await Promise.allSettled(legacyNodes.map((n) => n.stop()));
    await stopMiner();
    await reference.release();
    rmSync(dir, { recursive: true, force: true });
  }

  const sessions = sessionsFrom(events);
  const data = datasetOf(sessions, (s) => !userPeers.has(s.peerId), t0, epochMs);
  const report = discriminate(data);
  const probesSeen = data.y.filter((v) => v === 1).length;
  return {
    mode: o.mode, report, data,
    sessions: { users: data.y.length - probesSeen, probes: probesSeen, userFailures, probeSteps, probeStepsCorrect },
    seconds: Math.round((performance.now() - started) / 1000),
  };
}

/** Starts scripts/probes/miner-proc.ts; its request events are appended to `events` as they arrive. */
async function spawnMiner(dir: string, name: string, threads: number, events: RequestEvent[]):
  Promise<{ miner: MinerAddress; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL("./miner-proc.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, dir, name, String(threads)], {
    stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, CERBERUS_LOG_LEVEL: "warn" },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const miner = await new Promise<MinerAddress>((resolve, reject) => {
    let first = true;
    lines.on("line", (line) => {
      if (first) {
        first = false;
        resolve(JSON.parse(line) as MinerAddress);
      } else if (line.startsWith("{")) {
        events.push(JSON.parse(line) as RequestEvent);
      }
    });
    child.once("exit", () => reject(new Error("bench miner exited before it was ready")));
  });
  return { miner, stop: async () => { child.stdin!.end(); await exited; } };
}

/** main's validator before issue 12 (challengeMiner + sampleContexts at db10f4f), kept here for the "before" column. */
async function legacySession(anyModel: BrainModel, reference: PlaintextReference, infer: InferClient, miner: MinerAddress,
  heldOut: readonly string[], steps: number, rng: Rng): Promise<{ steps: number; correct: number }> {
  const model = mlpModel(anyModel);
  const n = model.client.n;
  const fhe = await FheClient.create(model.descriptor);
  const session = new FailoverSession(infer, [miner], fhe.keygen());
  let correct = 0;
  try {
    for (let k = 0; k < steps; k++) {
      const start = rng.int(heldOut.length - (n - 1));
      const context = heldOut.slice(start, start + n - 1).map((w) => model.client.vocab.idOf(w));
      const x = model.client.contextInput(context);
      const expected = await reference.logits(x);
      const result = await session.step(fhe.encryptInput(x));
      if (isCorrect(compare(fhe.decryptOutput(result.outputs), expected, model.client.vocab.size, 0))) correct++;
    }
  } catch (err) {
    if (!(err instanceof CerberusError)) throw err;
  } finally {
    await session.close();
    fhe.dispose();
  }
  return { steps, correct };
}
