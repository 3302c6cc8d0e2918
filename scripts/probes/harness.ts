/**
 * The probe discriminator harness (`npm run bench:probes`; a small run in test/nodes/net/probes.test.ts): real libp2p
 * miners on 127.0.0.1 (one process each, real node-seal evaluation, the miner's default queue and BUSY limits), two
 * populations of simulated users and the validator's real probe code, everything each miner sees logged per request,
 * then cross-validated discriminators trained to tell probes from users as an OPERATOR HOLDING `operatorSeats` OF
 * THE SEATS sees them (its seats' logs pooled: collusion) with the chain clock.
 *
 * - Users "model": sessions drawn from the user workload model (workload.ts: the shipped clients' default lengths,
 *   SDK apps with think times and identity reuse), each host with its own loopback address 127.0.0.x.
 * - Users "real": clients that do NOT follow the model: CLI users who type their own --words, dashboard users who
 *   change the default, SDK apps that reuse one node for many sessions and pause a fixed reading time per word.
 * - Probes: the validator's live start rule (probeStartTimes: a Poisson process over the whole timeline, no tail)
 *   and its probe sessions (runProbe: the users' miner choice over every seat, identities per the model), from the
 *   validator's own host address.
 * Every user and probe session runs `generate` with the users' default client policy over all seats.
 */
import "../../nodes/core/polyfills.ts";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBrainModel, type BrainModel } from "../../nodes/client/brain-model.ts";
import { generate } from "../../nodes/client/generate.ts";
import type { MinerAddress } from "../../nodes/client/transport.ts";
import { createCerberusNode } from "../../nodes/net/node.ts";
import { sampleArrivals, sampleRequest, type WorkloadModel } from "../../nodes/client/workload.ts";
import { CerberusError } from "../../nodes/core/errors.ts";
import { createRng } from "../../nodes/core/prng.ts";
import type { RequestEvent } from "../../nodes/miner/service.ts";
import { loadBrownSplits } from "../../nodes/model/corpus.ts";
import { writeTinyLm } from "../../nodes/train/tiny-lm.ts";
import { writeTinyTransformer } from "../../nodes/train/tiny-tx.ts";
import { PlaintextReference, samplePrompt, validationWords } from "../../nodes/validator/challenge.ts";
import { drawProbe, fileOutcomes, probeStartTimes, runProbe, type MinerOutcomes } from "../../nodes/validator/probes.ts";
import { isCorrect, isWrong, scoringFor } from "../../nodes/validator/scoring.ts";
import { median } from "../../nodes/core/stats.ts";
import { discriminate, type Dataset, type DiscriminatorReport } from "./discriminators.ts";
import { FEATURES, featureRows, sessionsFrom, withFamilies, type ChainClock, type Family, type SeatEvent, type SessionView } from "./features.ts";

export interface ProbeBenchOptions {
  /** Sessions of users following the workload model, and of users running real clients off the model. */
  users: number;
  realUsers: number;
  probes: number;
  /** Wall time over which users arrive and probes start (time-compressed: seconds, not hours). */
  timelineMs: number;
  /** Epochs in the timeline (the chain clock: `tempo` blocks each). */
  epochs: number;
  tempo: number;
  workload: WorkloadModel;
  /**
   * "tiny": a small random LM of the real format (default); "brown": the committed model; "tiny-tx" / "brown-tx": the
   * transformer Brain's (a small random one of its format, or the committed one).
   */
  model: "tiny" | "brown" | "tiny-tx" | "brown-tx";
  miners: number;
  /** Seats held by the one operator whose view the discriminators get (seats 0 … operatorSeats − 1). */
  operatorSeats: number;
  minerThreads: number;
  /**
   * "real" (default): the miners' default queue, BUSY and handshake limits, so honest probe-step loss is measured
   * as a miner would cause it; "relaxed": requests queue and handshakes wait (what a miner sees, on a busy machine).
   */
  minerProfile?: "real" | "relaxed";
  /** Simulated user hosts (each its own 127.0.0.x). */
  hosts: number;
  seed: number;
  log?: (line: string) => void;
}

type Population = "probe" | "model" | "real-cli" | "real-dashboard" | "real-app";

export interface ProbeBenchResult {
  /**
   * The headline: operator view, both user populations, every feature but the address family (the source address
   * is measured separately: its defence is a later step).
   */
  report: DiscriminatorReport;
  /** The same with the address family (remote IP and what derives from it). */
  withAddress: DiscriminatorReport;
  /** Each feature family alone (boosted trees and logistic regression, best of the two). */
  families: Record<string, number>;
  /** Probes against each user population alone (without the address family; and with it). */
  populations: Record<string, { overall: number; withAddress: number; users: number }>;
  /** One seat alone (no collusion features), both populations, without the address family. */
  singleSeat: number;
  /** Every session's feature row, label (1 = probe) and population, for re-analysis. */
  data: Dataset & { population: Population[] };
  sessions: { users: number; realUsers: number; probes: number; userFailures: number };
  /** Probe steps per miner (all miners are honest here): answered right, unanswered (soft), wrong. */
  honest: {
    probeSteps: number; correct: number; unanswered: number; wrong: number; lossRate: number;
    /** The validators' rule for this model family: a step is wrong beyond `tolerance` (relative to the logit range). */
    tolerance: number;
    /** Largest relative error of an answered step, and its median: the margin honest miners keep under `tolerance`. */
    maxRelError: { max: number; median: number };
  };
  seconds: number;
}

/** Host addresses: 127.0.0.2 is the validator's; users are 127.0.0.10 … */
const VALIDATOR_HOST = "127.0.0.2";
const userHost = (k: number) => `127.0.0.${10 + k}`;

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
  const events: SeatEvent[] = [];
  const spawned = await Promise.all(Array.from({ length: o.miners }, (_, seat) =>
    spawnMiner(model.name.startsWith("tiny-") ? dir : "models", model.name, o.minerThreads, o.minerProfile === "relaxed" ? "probes" : "probes-real",
      (e) => events.push({ ...e, seat }))));
  const miners = spawned.map((s) => s.miner);
  const targets = miners.map((m, uid) => ({ ...m, uid }));
  const reference = await PlaintextReference.create(model);
  const heldOut = validationWords();
  const userText = Array.from(train.subarray(0, 200_000), (id) => vocab.words[id]!);
  const population = new Map<string, Population>();
  const t0 = Date.now();
  const p0 = performance.now();
  const at = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, p0 + ms - performance.now())));
  let userFailures = 0;
  const probeOutcomes: MinerOutcomes = new Map();
  /** A host's fresh node per session, labelled with who sent it (the operator sees only peer ids). */
  const nodeFor = (pop: Population, host: string) => async () => {
    const node = await createCerberusNode({ listen: [], dialFrom: host });
    population.set(node.peerId.toString(), pop);
    return node;
  };
  const userRequest = async (pop: Population, words: number) => {
    const prompt = samplePrompt(userText, 3 + rng.int(10), rng.next);
    try {
      // The shipped client: the request shaped into sessions by the workload model, whatever its length.
      await generate({ model, miners, prompt, words, workload: o.workload, newNode: nodeFor(pop, userHost(rng.int(o.hosts))), random: rng.next });
    } catch (err) {
      if (!(err instanceof CerberusError)) throw err;
      userFailures += 1;
      log(`user request failed: ${err.code} ${err.message.slice(0, 200)}`);
    }
  };

  try {
    const model1 = sampleArrivals(o.users, o.timelineMs, rng.next).map(async (startMs) => {
      const words = sampleRequest(o.workload, rng.next);
      await at(startMs);
      await userRequest("model", words);
    });
    // Users whose requests the model does not describe: what they ask for is theirs; the client shapes it.
    const longest = o.workload.requests.app.maxWords;
    const real = sampleArrivals(o.realUsers, o.timelineMs, rng.next).map(async (startMs) => {
      const r = rng.next();
      const cliDefault = o.workload.requests.fixed[0]?.words ?? 5;
      const dashDefault = o.workload.requests.fixed[1]?.words ?? 3;
      let pop: Population;
      let words: number;
      if (r < 0.4) { // CLI: half keep the default, half type their own --words
        pop = "real-cli";
        words = rng.next() < 0.5 ? cliDefault : 1 + rng.int(longest * 2);
      } else if (r < 0.6) { // dashboard: most keep the default
        pop = "real-dashboard";
        words = rng.next() < 0.6 ? dashDefault : 1 + rng.int(longest * 2);
      } else { // an SDK app: uniform lengths of its own (it reads at its own pace from what has arrived)
        pop = "real-app";
        words = 1 + rng.int(longest + 2);
      }
      await at(startMs);
      await userRequest(pop, words);
    });
    // The validator's live start rule over the whole timeline: no probe-free stretch anywhere.
    const probes = probeStartTimes(0, o.timelineMs, () => o.probes / o.timelineMs, rng.next).map(async (startMs) => {
      const p = drawProbe(o.workload, heldOut, rng.next);
      await at(startMs);
      const r = await runProbe(p, targets, { model, reference, workload: o.workload, newNode: nodeFor("probe", VALIDATOR_HOST), random: rng.next });
      fileOutcomes(probeOutcomes, r, targets);
    });
    await Promise.all([...model1, ...real, ...probes]);
    log(`traffic done after ${((performance.now() - p0) / 1000).toFixed(0)} s: ${events.length} requests at the miners`);
  } finally {
    await Promise.allSettled(spawned.map((s) => s.stop()));
    await reference.release();
    rmSync(dir, { recursive: true, force: true });
  }

  const clock: ChainClock = { startMs: t0, blockMs: o.timelineMs / o.epochs / o.tempo, tempo: o.tempo, validators: 1 };
  const operator = (seat: number) => seat < o.operatorSeats;
  const label = (s: SessionView): Population => population.get(s.peerId) ?? "probe";
  const view = (seatOk: (seat: number) => boolean) => {
    const evs = events.filter((e) => seatOk(e.seat));
    const sessions = sessionsFrom(evs);
    const x = featureRows(sessions, evs, clock);
    const pops = sessions.map(label);
    return { x, pops };
  };
  const opView = view(operator);
  const data = { features: FEATURES, x: opView.x, y: opView.pops.map((p) => (p === "probe" ? 1 : 0)), population: opView.pops };
  const subset = (keep: (p: Population) => boolean): Dataset => {
    const idx = data.population.flatMap((p, i) => (keep(p) ? [i] : []));
    return { features: data.features, x: idx.map((i) => data.x[i]!), y: idx.map((i) => data.y[i]!) };
  };
  const noAddress = (d: Dataset) => withFamilies(d, (f) => f !== "address");
  const all = subset(() => true);
  const report = discriminate(noAddress(all));
  const withAddress = discriminate(all);
  const families: Record<string, number> = {};
  for (const fam of ["identity", "address", "transport", "shape", "load", "chain", "collusion", "linkage"] as Family[]) {
    const r = discriminate(withFamilies(all, (f) => f === fam));
    families[fam] = r.overall;
  }
  const populations: ProbeBenchResult["populations"] = {};
  const groups: [string, (p: Population) => boolean][] = [
    ["model", (p) => p === "model"], ["real", (p) => p.startsWith("real")],
    ["real-cli", (p) => p === "real-cli"], ["real-dashboard", (p) => p === "real-dashboard"], ["real-app", (p) => p === "real-app"],
  ];
  for (const [name, isUser] of groups) {
    const d = subset((p) => p === "probe" || isUser(p));
    const users = d.y.filter((v) => v === 0).length;
    if (users < 10) continue;
    populations[name] = { overall: discriminate(noAddress(d)).overall, withAddress: discriminate(d).overall, users };
  }
  const single = view((seat) => seat === o.miners - 1);
  const singleData = withFamilies({ features: FEATURES, x: single.x, y: single.pops.map((p) => (p === "probe" ? 1 : 0)) },
    (f) => f !== "collusion" && f !== "address");
  const singleSeat = discriminate(singleData).overall;

  const steps = [...probeOutcomes.values()].flat();
  const rule = scoringFor(model.kind);
  const errors = steps.filter((s) => s.answered).map((s) => s.maxRelError);
  const unanswered = steps.length - errors.length;
  const honest = {
    probeSteps: steps.length, correct: steps.filter((s) => isCorrect(s, rule)).length,
    unanswered, wrong: steps.filter((s) => isWrong(s, rule)).length,
    lossRate: steps.length === 0 ? 0 : +(unanswered / steps.length).toFixed(4),
    tolerance: rule.tolerance,
    maxRelError: { max: Math.max(0, ...errors), median: median(errors) },
  };
  const count = (p: (x: Population) => boolean) => opView.pops.filter(p).length;
  return {
    report, withAddress, families, populations, singleSeat, data, honest,
    sessions: { users: count((p) => p === "model"), realUsers: count((p) => p.startsWith("real")), probes: count((p) => p === "probe"), userFailures },
    seconds: Math.round((performance.now() - started) / 1000),
  };
}

/** Starts scripts/probes/miner-proc.ts with `profile`; its request events go to `onEvent` as they arrive. */
async function spawnMiner(dir: string, name: string, threads: number, profile: string, onEvent: (e: RequestEvent) => void):
  Promise<{ miner: MinerAddress; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL("./miner-proc.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, dir, name, String(threads), profile], {
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
      } else if (line.startsWith("{\"peerId\"")) {
        onEvent(JSON.parse(line) as RequestEvent);
      }
    });
    child.once("exit", () => reject(new Error("bench miner exited before it was ready")));
  });
  return { miner, stop: async () => { child.stdin!.end(); await exited; } };
}
