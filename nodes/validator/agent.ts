import { setMaxListeners } from "node:events";
import { loadClientMixture, loadPinnedModel, type BrainModel } from "../client/brain-model.ts";
import type { LmMixture } from "../model/mixture.ts";
import { type TransportOptions } from "../client/transport.ts";
import { rankMiners } from "../client/miners.ts";
import { nextArrivalMs, USER_WORKLOAD, type WorkloadModel } from "../client/workload.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { ChainClient } from "../chain/client.ts";
import { ChainRevertError } from "../chain/errors.ts";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { createCerberusNode, type CerberusNode } from "../net/node.ts";
import { PlaintextReference } from "./challenge.ts";
import { drawProbe, fileOutcomes, planProbes, runProbe, runProbes, waitUntil, type MinerOutcomes, type ProbeTarget } from "./probes.ts";
import { scoreMiner, scoringFor, toWeights, type MinerScore, type ScoringRule } from "./scoring.ts";
import { EpochDuties } from "./duties.ts";
import { revealAtStartup, validatorStatePath } from "./startup.ts";
import { ValidatorState } from "./state.ts";
import { ScoreMemory } from "./memory.ts";
import { dirname, join } from "node:path";

export interface ValidatorAgentOptions {
  chain: ChainClient;
  brainId: bigint;
  /** Held-out words to build challenges from (the validation split), mapped into the Brain's vocabulary. */
  heldOut: readonly string[];
  modelDir?: string;
  modelName?: string;
  /** Where commits, reveals and settlements owed are persisted (default ".cerberus/validator-<hotkey>"). */
  dataDir?: string;
  /**
   * Probe requests per epoch, per miner of the Brain (default 4): the probe rate is this × miners per epoch's worth
   * of time. Each is a whole generation request, shaped into sessions that land where a user's would (probes.ts).
   */
  challengesPerMiner?: number;
  /** Probes' requests and how they are shaped into sessions: the user workload model (default USER_WORKLOAD). */
  workload?: WorkloadModel;
  /**
   * `score` (orchestrated runs) spreads its probes over this window when given no deadline (default: up to the
   * deadline; 0 = all at once, for demos and tests that fast-forward the chain). The live loop (`run`) does not use
   * it: it probes without pause.
   */
  probeWindowMs?: number;
  /**
   * Block time override. By default the agent reads it from the chain (recent block timestamps, `recentBlockTimeMs`),
   * and falls back to what it observes (blocks per wall-clock second) where timestamps are too coarse.
   */
  blockTimeMs?: number;
  /** Windows after the one with a wrong answer in which that miner's score stays 0 (default 1). */
  penaltyWindows?: number;
  scoring?: ScoringRule;
  transport?: TransportOptions;
  /** The users' client policy (miner choice, BUSY waits; default the users' defaults): probes must match users. */
  client?: ClientPolicy;
  /** Block polling interval of both loops (default 500 ms). */
  pollMs?: number;
  /** Blocks before the end of an epoch by which scoring must be done so the commit lands (default max(2, tempo/10)). */
  commitMarginBlocks?: bigint;
  /** Miner-steps per settle transaction (default: a whole epoch in one call). */
  settleStepsPerTx?: bigint;
  random?: () => number;
  logger?: Logger;
}

export interface EpochScores {
  epoch: bigint;
  scores: MinerScore[];
  uids: number[];
  weights: number[];
}

/**
 * The validator. Two loops run side by side (`run`):
 *  - the scoring loop: probe requests start without pause, as a Poisson process over every moment of every epoch
 *    (held-out prompts and request lengths from the user workload model, shaped into sessions as users' clients
 *    shape theirs; each session runs the users' miner choice and is scored on whichever miner it reached; probes.ts). At each epoch's commit deadline the rolling
 *    window — every probe that ended since the last commit — is scored and committed; probes still running or
 *    started after the deadline count toward the next commit;
 *  - the duty loop (EpochDuties): every poll, reveals each saved commit whose reveal window is open and settles, oldest
 *    first, each revealed epoch whose window has ended — never waiting on scoring.
 * Salts are persisted before the commit is sent and every step's outcome right after, so a SIGKILL at any moment
 * loses nothing; at start-up, reveals due are sent before the model is loaded or anything slow runs.
 *
 * The phases are also public methods so an orchestrator (the demo, tests) can drive them on a chain it mines itself.
 */
export class ValidatorAgent {
  private stopped = false;
  readonly duties: EpochDuties;
  /** Outcomes of probes that ended since the last commit (the rolling window), per miner uid. */
  private window: MinerOutcomes = new Map();
  /** Wall-clock start times (Date.now()) and start blocks of the live loop's probes, for logs and tests. */
  readonly probeStarts: { at: number; block: bigint }[] = [];
  /** Last score per miner hotkey, and penalty windows left, kept beside the state file (memory.ts). */
  private readonly memory: ScoreMemory;
  private miners: ProbeTarget[] = [];
  private readonly observed: { at: number; block: bigint }[] = [];
  /** Probes of the live loop still running. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborts probes still waiting for their start time when the agent stops. */
  private readonly probing = (() => {
    const c = new AbortController();
    setMaxListeners(0, c.signal); // one listener per probe waiting for its start time
    return c;
  })();

  private constructor(
    readonly chain: ChainClient,
    readonly brainId: bigint,
    readonly node: CerberusNode,
    readonly model: BrainModel,
    readonly reference: PlaintextReference,
    /** The client mixture shipped with the model, if any: probes sample from it as users' clients do. */
    readonly mixture: LmMixture | undefined,
    readonly state: ValidatorState,
    readonly uid: number,
    private readonly tempo: bigint,
    private readonly options: ValidatorAgentOptions,
    private readonly log: Logger,
  ) {
    this.duties = new EpochDuties({ chain, brainId, uid, state, log,
      ...(options.settleStepsPerTx !== undefined ? { settleStepsPerTx: options.settleStepsPerTx } : {}) });
    this.memory = ScoreMemory.load(join(dirname(validatorStatePath(chain.address, options.dataDir)), "scores.json"));
  }

  static async start(options: ValidatorAgentOptions): Promise<ValidatorAgent> {
    const { chain, brainId } = options;
    const log = options.logger ?? createLogger("validator");
    const brain = await chain.brain(brainId);
    const state = ValidatorState.load(validatorStatePath(chain.address, options.dataDir));
    // A restart late in an epoch may have seconds left in a reveal window: reveal before loading anything.
    await revealAtStartup({ chain, brainId, logger: log, state });
    const model = loadPinnedModel(brain, { dir: options.modelDir, name: options.modelName });
    // A validator only dials out; its peer info on-chain is informational (it serves nothing) and it never probes
    // from this identity: every probe session has a fresh one (probes.ts).
    const node = await createCerberusNode({ listen: [] });
    const reference = await PlaintextReference.create(model);
    const mixture = loadClientMixture(model, { dir: options.modelDir })?.mixture;
    const uid = await chain.register(brainId, "Validator", { peerId: node.peerId.toString(), multiaddrs: [] });
    log.info({ brainId: brainId.toString(), uid, probesMix: mixture !== undefined, pendingReveals: state.unrevealed.length,
      settlementsOwed: state.list(brainId, "revealed").length }, "validator ready");
    return new ValidatorAgent(chain, brainId, node, model, reference, mixture, state, uid, BigInt(brain.tempo), options, log);
  }

  /**
   * The block time: the override if given, else the chain's recent block timestamps, else what this agent has seen
   * (blocks per wall-clock second while it polled), else 2 s.
   */
  async blockTimeMs(): Promise<number> {
    if (this.options.blockTimeMs !== undefined) return this.options.blockTimeMs;
    const fromChain = await this.chain.recentBlockTimeMs().catch(() => undefined);
    if (fromChain !== undefined) return fromChain;
    const first = this.observed[0];
    const last = this.observed.at(-1);
    if (first !== undefined && last !== undefined && last.block > first.block) return (last.at - first.at) / Number(last.block - first.block);
    return 2_000;
  }

  /** The Brain's miners as a user's client sees them (ranked by incentive, seat-bound), with their uids. */
  private async refreshMiners(): Promise<ProbeTarget[]> {
    const brain = await this.chain.brain(this.brainId);
    const ranked = rankMiners(brain.miners);
    this.miners = ranked.map((a) => ({ ...a, uid: brain.miners.find((m) => m.peerId === a.peerId && m.hotkey.toLowerCase() === a.hotkey)!.uid }));
    return this.miners;
  }

  private probeContext() {
    return {
      model: this.model, reference: this.reference, signal: this.probing.signal, logger: this.log,
      workload: this.options.workload ?? USER_WORKLOAD,
      ...(this.mixture !== undefined ? { mixture: this.mixture } : {}),
      ...(this.options.client !== undefined ? { client: this.options.client } : {}),
      ...(this.options.transport !== undefined ? { transport: this.options.transport } : {}),
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    };
  }

  /**
   * Orchestrated scoring (demos, tests, `scoreAndCommit`): `challengesPerMiner` × miners probe requests spread over
   * `probeWindowMs`, or over the time left until `deadlineBlock` less the time a probe takes, each landing where a
   * user's session would; then scores and the weights to commit for `epoch`. The live agent (`run`) does not use
   * this: it probes without pause and scores its rolling window at each deadline.
   */
  async score(epoch?: bigint, deadlineBlock?: bigint): Promise<Omit<EpochScores, "epoch">> {
    const miners = await this.refreshMiners();
    let windowMs = this.options.probeWindowMs ?? 0;
    if (deadlineBlock !== undefined && this.options.probeWindowMs === undefined) {
      const left = Number(deadlineBlock - (await this.chain.blockNumber())) * (await this.blockTimeMs());
      // A probe must end before the deadline: keep the last third (at most a minute) for the last ones to finish.
      windowMs = Math.max(0, left - Math.min(60_000, left / 3));
    }
    const plan = planProbes({
      requests: (this.options.challengesPerMiner ?? 4) * miners.length, windowMs,
      workload: this.options.workload ?? USER_WORKLOAD, heldOut: this.options.heldOut,
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    });
    this.log.info({ epoch: epoch?.toString(), probes: plan.length, windowMs: Math.round(windowMs) }, "probing miners");
    const outcomes = await runProbes(plan, miners, this.probeContext());
    if (deadlineBlock !== undefined && (await this.chain.blockNumber()) > deadlineBlock) {
      this.log.warn({ epoch: epoch?.toString(), deadlineBlock: deadlineBlock.toString() }, "scoring overran its deadline");
    }
    return this.scoreWindow(epoch, outcomes);
  }

  /**
   * Scores one window of outcomes: every miner of the Brain, by what the probes that reached it found. A miner no
   * probe reached keeps its last score for up to 3 windows (probes follow users, so a miner users rarely reach is
   * rarely probed), else scores 0. A wrong answer scores 0 now and for `penaltyWindows` windows after.
   */
  scoreWindow(epoch: bigint | undefined, outcomes: MinerOutcomes): Omit<EpochScores, "epoch"> {
    const rule = this.options.scoring ?? scoringFor(this.model.kind);
    const scores: MinerScore[] = [];
    const seats = this.miners;
    for (const seat of seats) {
      const key = seat.hotkey ?? seat.peerId;
      const outs = outcomes.get(seat.uid) ?? [];
      let s: MinerScore;
      if (outs.length > 0) {
        s = scoreMiner(seat.uid, outs, rule);
        this.memory.last.set(key, { score: s, age: 0 });
      } else {
        const last = this.memory.last.get(key);
        const kept = last !== undefined && last.age < 3 ? last : undefined;
        if (kept !== undefined) kept.age += 1;
        s = kept !== undefined ? { ...kept.score, uid: seat.uid, challenges: 0, answered: 0, correct: 0, wrong: 0 } : scoreMiner(seat.uid, [], rule);
      }
      const penalty = this.memory.penalties.get(key) ?? 0;
      if (s.wrong > 0) {
        this.memory.penalties.set(key, this.options.penaltyWindows ?? 1);
        this.memory.last.delete(key);
        this.log.warn({ epoch: epoch?.toString(), miner: seat.uid, wrong: s.wrong }, "wrong answer: weight 0 this window and after");
      } else if (penalty > 0) {
        this.memory.penalties.set(key, penalty - 1);
        s = { ...s, score: 0 };
      }
      scores.push(s);
      this.log.info({ epoch: epoch?.toString(), miner: seat.uid, correct: s.correct, wrong: s.wrong, of: s.challenges,
        medianMs: Math.round(s.medianMs), score: +s.score.toFixed(3) }, "miner scored");
    }
    // Written before anything is committed from it: a process killed after this window starts the next from here.
    this.memory.save();
    return { scores, ...toWeights(scores) };
  }

  /**
   * Scores the miners for `epoch` (default: the current one) and commits (salt persisted first). If the epoch ended
   * before the commit landed, the same fresh scores are committed once for the current epoch, unless this validator
   * already has a commit there. Undefined if nothing was committed.
   */
  async scoreAndCommit(epoch?: bigint, deadlineBlock?: bigint): Promise<EpochScores | undefined> {
    const target = epoch ?? await this.currentEpoch();
    // Without a deadline or a fixed probe window, probes are spread over what is left of the epoch's commit window.
    const deadline = deadlineBlock ?? (this.options.probeWindowMs === undefined
      ? (await this.duties.windows(target)).revealFrom : undefined);
    const result = await this.score(target, deadline);
    if (result.uids.length === 0) {
      this.log.warn({ epoch: target.toString() }, "every miner scored zero: nothing to commit this epoch");
      return undefined;
    }
    return this.commitOrNext(target, result);
  }

  /**
   * Commits `result` for `target`; if the epoch ended before the commit landed, commits it once for the current
   * epoch instead, unless this validator already has a commit there. Undefined if nothing was committed.
   */
  async commitOrNext(target: bigint, result: Omit<EpochScores, "epoch">): Promise<EpochScores | undefined> {
    try {
      await this.commit(target, result.uids, result.weights);
      return { epoch: target, ...result };
    } catch (err) {
      if (!(err instanceof ChainRevertError && err.errorName === "CommitWindowClosed")) throw err;
    }
    const now = await this.currentEpoch();
    if (now <= target || await this.hasCommit(now)) {
      this.log.warn({ epoch: target.toString() }, "epoch ended before the commit landed; nothing committed");
      return undefined;
    }
    this.log.warn({ epoch: target.toString(), next: now.toString() }, "epoch ended before the commit landed; committing for the next one");
    await this.commit(now, result.uids, result.weights);
    return { epoch: now, ...result };
  }

  /** Persists salt and weights, then commits their hash for `epoch` (EpochDuties.commit). */
  private commit(epoch: bigint, uids: number[], weights: number[]): Promise<void> {
    return this.duties.commit(epoch, uids, weights);
  }

  /** Whether one of this validator's saved commits for `epoch` is the one on-chain. */
  async hasCommit(epoch: bigint): Promise<boolean> {
    const saved = this.state.forEpoch(this.brainId, epoch);
    if (saved.length === 0) return false;
    if (saved.some((c) => c.status !== "pending")) return true;
    const onChain = (await this.chain.commitOf(this.brainId, epoch, this.uid)).toLowerCase();
    return saved.some((c) => c.hash.toLowerCase() === onChain);
  }

  /** Reveals every saved commit whose reveal window is open now (see EpochDuties.revealDue). */
  revealDue(): Promise<bigint[]> {
    return this.duties.revealDue();
  }

  /**
   * Settles `epoch` (finishing another settler's half-done epoch first). True if this call completed it, false if
   * someone else had; throws if a later epoch settled first.
   */
  async settle(epoch: bigint): Promise<boolean> {
    const outcome = await this.duties.settleEpoch(epoch);
    if (outcome === "lost") throw new CerberusError("EPOCH_UNSETTLEABLE", `epoch ${epoch} can no longer be settled`);
    return outcome === "settled";
  }

  /** Blocks until the chain reaches `block` (polling), or the agent stops. */
  async waitForBlock(block: bigint): Promise<void> {
    const pollMs = this.options.pollMs ?? 500;
    for (;;) {
      if (this.stopped) break;
      const now = await this.chain.blockNumber();
      this.observe(now);
      if (now >= block) break;
      await sleep(pollMs);
    }
    if (this.stopped) throw new CerberusError("STOPPED", "validator stopped");
  }

  /** Remembers when a block number was seen (the block time where timestamps are too coarse to tell). */
  private observe(block: bigint): void {
    const last = this.observed.at(-1);
    if (last !== undefined && last.block === block) return;
    this.observed.push({ at: performance.now(), block });
    if (this.observed.length > 256) this.observed.shift();
  }

  /** The live agent: the duty loop and the scoring loop (with its prober), side by side, until `stop`. */
  async run(): Promise<void> {
    await Promise.all([this.dutyLoop(), this.scoringLoop()]);
  }

  private async dutyLoop(): Promise<void> {
    const pollMs = this.options.pollMs ?? 500;
    while (!this.stopped) {
      try {
        const block = await this.chain.blockNumber();
        this.observe(block);
        await this.duties.revealDue(block);
        await this.duties.settleDue(block);
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, "reveal/settle failed; retrying");
      }
      await sleep(pollMs);
    }
  }

  /**
   * The prober of the live agent: probe sessions start as a Poisson process for as long as the agent runs — at
   * every moment of every epoch, the tail after the commit deadline included; nothing on-chain (commits, reveals,
   * settlements) changes the rate. The rate is `challengesPerMiner` × miners per epoch (tempo × block time). Each
   * probe's outcomes join the rolling window when it ends.
   */
  private async probeLoop(): Promise<void> {
    const random = this.options.random ?? Math.random;
    const workload = this.options.workload ?? USER_WORKLOAD;
    let epochMs = Number(this.tempo) * (await this.blockTimeMs());
    let refreshedAt = performance.now();
    while (!this.stopped) {
      const rate = Math.max(1, (this.options.challengesPerMiner ?? 4) * Math.max(1, this.miners.length)) / Math.max(1, epochMs);
      try {
        await waitUntil(performance.now() + nextArrivalMs(rate, random), this.probing.signal);
      } catch {
        break; // stopped
      }
      if (performance.now() - refreshedAt > Math.min(epochMs / 4, 60_000)) {
        refreshedAt = performance.now();
        try {
          await this.refreshMiners();
          epochMs = Number(this.tempo) * (await this.blockTimeMs());
        } catch (err) {
          this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not refresh the miner list");
        }
      }
      const miners = this.miners.filter((m) => m.peerId !== "");
      if (miners.length === 0) continue;
      this.probeStarts.push({ at: Date.now(), block: this.observed.at(-1)?.block ?? 0n });
      const p: Promise<void> = runProbe(drawProbe(workload, this.options.heldOut, random), miners, this.probeContext())
        .then((r) => fileOutcomes(this.window, r, miners), (err: unknown) => {
          if (!this.stopped) this.log.warn({ err: err instanceof Error ? err.message : String(err) }, "probe failed");
        })
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    // Probes still running when the agent stops are not awaited here; `stop` gives them a moment before it frees the
    // plaintext reference they may be using.
  }

  /** Takes the rolling window: every probe outcome filed since the last call. */
  private takeWindow(): MinerOutcomes {
    const w = this.window;
    this.window = new Map();
    return w;
  }

  /**
   * Per epoch: at the commit deadline (`commitMarginBlocks` before the reveal window), score the rolling window —
   * every probe that ended since the last commit, wherever in the epochs it started — and commit. Probes still
   * running, and those started after the deadline, count toward the next commit. Nothing waits on probes, so the
   * commit is never late however long they run.
   */
  private async scoringLoop(): Promise<void> {
    const margin = this.options.commitMarginBlocks ?? (this.tempo / 10n > 2n ? this.tempo / 10n : 2n);
    await this.refreshMiners().catch(() => undefined);
    const prober = this.probeLoop();
    while (!this.stopped) {
      try {
        const block = await this.chain.blockNumber();
        const epoch = await this.chain.epochAt(this.brainId, block);
        const w = await this.duties.windows(epoch);
        const deadline = w.revealFrom - margin;
        if (await this.hasCommit(epoch)) {
          // Committed already (before a restart): the next epoch is the next one to score.
        } else if (block > deadline) {
          this.log.info({ epoch: epoch.toString(), block: block.toString(), deadline: deadline.toString() },
            "past this epoch's commit deadline; the probes so far count toward the next one");
        } else {
          this.log.info({ epoch: epoch.toString(), deadline: deadline.toString() }, "scoring started");
          await this.waitForBlock(deadline);
          await this.refreshMiners();
          const result = this.scoreWindow(epoch, this.takeWindow());
          if (result.uids.length === 0) {
            this.log.warn({ epoch: epoch.toString() }, "every miner scored zero: nothing to commit this epoch");
          } else {
            await this.commitOrNext(epoch, result);
          }
        }
        await this.waitForBlock(w.revealFrom);
      } catch (err) {
        if (this.stopped) break;
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, "scoring failed; retrying");
        await sleep(this.options.pollMs ?? 500);
      }
    }
    await prober;
  }

  private async currentEpoch(): Promise<bigint> {
    return this.chain.epochAt(this.brainId, await this.chain.blockNumber());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.probing.abort();
    await this.node.stop();
    // A probe may be inside the ONNX reference (onnxruntime must not free a session mid-run). The abort ends every
    // probe request: no further session starts, the step in flight is abandoned and nothing more is checked; give
    // them up to 5 s.
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(5_000)]);
    await this.reference.release();
    this.log.info("validator stopped");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
