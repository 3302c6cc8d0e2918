import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { join } from "node:path";
import type { Hex } from "viem";
import { loadPinnedModel, type BrainModel } from "../client/brain-model.ts";
import type { TransportOptions } from "../client/transport.ts";
import { USER_WORKLOAD, type WorkloadModel } from "../client/workload.ts";
import type { ChainClient } from "../chain/client.ts";
import { weightsCommitHash } from "../chain/yuma.ts";
import { ChainRevertError } from "../chain/errors.ts";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { createCerberusNode, type CerberusNode } from "../net/node.ts";
import { PlaintextReference } from "./challenge.ts";
import { planProbes, runProbes } from "./probes.ts";
import { DEFAULT_SCORING, scoreMiner, toWeights, type MinerScore, type ScoringRule } from "./scoring.ts";
import { ValidatorState } from "./state.ts";

export interface ValidatorAgentOptions {
  chain: ChainClient;
  brainId: bigint;
  /** Held-out words to build challenges from (the validation split), mapped into the Brain's vocabulary. */
  heldOut: readonly string[];
  modelDir?: string;
  modelName?: string;
  /** Where pending reveals are persisted (default ".cerberus/validator-<hotkey>"). */
  dataDir?: string;
  /** Probe sessions per miner per epoch (default 4); each is a whole generation session (see probes.ts). */
  challengesPerMiner?: number;
  /** Session lengths and think times of probes: the user workload model (default USER_WORKLOAD). */
  workload?: WorkloadModel;
  /**
   * Probe start times are spread over this window when `score` is given no deadline (default 0: all at once, for
   * orchestrated demos and tests that fast-forward the chain).
   */
  probeWindowMs?: number;
  /** Expected block time, to turn a deadline block into the probe window (default 2,000 ms). */
  blockTimeMs?: number;
  /** Time kept free before the deadline for the last probes to end and the commit to land (default 60 s). */
  probeTailMs?: number;
  scoring?: ScoringRule;
  transport?: TransportOptions;
  /** Block polling interval while waiting for a window (default 500 ms). */
  pollMs?: number;
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
 * The validator: each epoch it challenges every registered miner with encrypted held-out contexts through the
 * user's own client code path, scores agreement with the plaintext reference and latency, commits
 * keccak256(brainId, epoch, uids, weights, salt), reveals in the next window and settles when due. Salts and
 * weights are persisted before the commit is sent, so a restart between commit and reveal still reveals.
 *
 * The phases are separate methods so an orchestrator (the demo, tests) can drive them; `run` loops them on a live
 * chain, waiting for blocks.
 */
export class ValidatorAgent {
  private stopped = false;
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
    readonly state: ValidatorState,
    readonly uid: number,
    private readonly options: ValidatorAgentOptions,
    private readonly log: Logger,
  ) {}

  static async start(options: ValidatorAgentOptions): Promise<ValidatorAgent> {
    const { chain, brainId } = options;
    const log = options.logger ?? createLogger("validator");
    const brain = await chain.brain(brainId);
    const model = loadPinnedModel(brain, { dir: options.modelDir, name: options.modelName });
    const dataDir = options.dataDir ?? join(".cerberus", `validator-${chain.address.toLowerCase()}`);
    const state = ValidatorState.load(join(dataDir, "state.json"));
    // A validator only dials out; its peer info on-chain is informational (it serves nothing) and it never probes
    // from this identity: every probe session has a fresh one (probes.ts).
    const node = await createCerberusNode({ listen: [] });
    const reference = await PlaintextReference.create(model);
    const uid = await chain.register(brainId, "Validator", { peerId: node.peerId.toString(), multiaddrs: [] });
    log.info({ brainId: brainId.toString(), uid, pendingReveals: state.unrevealed.length }, "validator ready");
    return new ValidatorAgent(chain, brainId, node, model, reference, state, uid, options, log);
  }

  /**
   * Probes every miner of the Brain with sessions spread over the time left until `deadlineBlock` (minus the tail
   * the last sessions need), or over `probeWindowMs` without a deadline, and returns scores and the weights it would
   * commit. Accuracy and latency come from every step of every probe (scoring.ts).
   */
  async score(_epoch?: bigint, deadlineBlock?: bigint): Promise<Omit<EpochScores, "epoch">> {
    const brain = await this.chain.brain(this.brainId);
    const rule = this.options.scoring ?? DEFAULT_SCORING;
    let windowMs = this.options.probeWindowMs ?? 0;
    if (deadlineBlock !== undefined) {
      const left = Number(deadlineBlock - (await this.chain.blockNumber())) * (this.options.blockTimeMs ?? 2_000);
      windowMs = Math.max(0, left - (this.options.probeTailMs ?? 60_000));
    }
    const plan = planProbes(brain.miners.map((m) => ({ uid: m.uid, peerId: m.peerId, multiaddrs: m.multiaddrs })), {
      sessionsPerMiner: this.options.challengesPerMiner ?? 4, windowMs,
      workload: this.options.workload ?? USER_WORKLOAD, heldOut: this.options.heldOut,
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    });
    this.log.info({ probes: plan.length, windowMs: Math.round(windowMs) }, "probing miners");
    const outcomes = await runProbes(plan, {
      model: this.model, reference: this.reference, signal: this.probing.signal, logger: this.log,
      ...(this.options.transport !== undefined ? { transport: this.options.transport } : {}),
    });
    const scores: MinerScore[] = [];
    for (const miner of brain.miners) {
      const s = scoreMiner(miner.uid, outcomes.get(miner.uid) ?? [], rule);
      scores.push(s);
      this.log.info({ miner: miner.uid, correct: s.correct, of: s.challenges, medianMs: Math.round(s.medianMs),
        score: +s.score.toFixed(3) }, "miner scored");
    }
    return { scores, ...toWeights(scores) };
  }

  /** Scores the miners and commits for the current epoch (salt persisted first). Undefined if nothing to commit. */
  async scoreAndCommit(): Promise<EpochScores | undefined> {
    // Without a fixed probe window, probes are spread over what is left of the current epoch's commit window.
    let deadline: bigint | undefined;
    if (this.options.probeWindowMs === undefined) {
      const epoch = await this.chain.epochAt(this.brainId, await this.chain.blockNumber());
      deadline = (await this.chain.windows(this.brainId, epoch)).revealFrom;
    }
    const result = await this.score(undefined, deadline);
    if (result.uids.length === 0) {
      this.log.warn("every miner scored zero: nothing to commit this epoch");
      return undefined;
    }
    // The epoch can roll over between reading it and the commit's inclusion: then commit the same (fresh) scores
    // for the new epoch, once.
    for (let attempt = 1; ; attempt++) {
      const epoch = await this.chain.epochAt(this.brainId, await this.chain.blockNumber());
      try {
        await this.commit(epoch, result.uids, result.weights);
        return { epoch, ...result };
      } catch (err) {
        if (attempt >= 2 || !(err instanceof ChainRevertError && err.errorName === "CommitWindowClosed")) throw err;
        this.log.warn({ epoch: epoch.toString() }, "epoch ended before the commit landed; committing for the next one");
      }
    }
  }

  /** Persists salt and weights, then commits their hash for `epoch`. */
  private async commit(epoch: bigint, uids: number[], weights: number[]): Promise<void> {
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    const hash = weightsCommitHash(this.brainId, epoch, uids, weights, salt);
    this.state.record({ brainId: this.brainId.toString(), epoch: epoch.toString(), uids, weights, salt, hash, revealed: false });
    await this.chain.commit(this.brainId, epoch, hash);
    this.log.info({ epoch: epoch.toString(), uids, weights }, "weights committed");
  }

  /**
   * Reveals every persisted commit whose reveal window is open now. Commits whose window has passed are dropped
   * (nothing can be done for them); those whose window has not opened stay pending. Returns the epochs revealed.
   */
  async revealDue(): Promise<bigint[]> {
    const block = await this.chain.blockNumber();
    const revealed: bigint[] = [];
    for (const p of this.state.unrevealed) {
      if (BigInt(p.brainId) !== this.brainId) continue;
      const epoch = BigInt(p.epoch);
      const w = await this.chain.windows(this.brainId, epoch);
      if (block < w.revealFrom) continue;
      if (block >= w.revealTo) {
        this.log.warn({ epoch: p.epoch }, "reveal window missed; dropping the commit");
        this.state.markRevealed(this.brainId, epoch);
        continue;
      }
      try {
        await this.chain.reveal(this.brainId, epoch, p.uids, p.weights, p.salt);
      } catch (err) {
        if (!(err instanceof ChainRevertError && err.errorName === "AlreadyRevealed")) throw err;
      }
      this.state.markRevealed(this.brainId, epoch);
      revealed.push(epoch);
      this.log.info({ epoch: p.epoch }, "weights revealed");
    }
    return revealed;
  }

  /** Settles `epoch` if nobody has yet (anyone may; a race with another settler is not an error). */
  async settle(epoch: bigint): Promise<boolean> {
    try {
      const r = await this.chain.settle(this.brainId, epoch);
      this.log.info({ epoch: epoch.toString(), transactions: r.transactions, gas: r.gasUsed.toString() }, "epoch settled");
      return true;
    } catch (err) {
      if (err instanceof ChainRevertError && (err.errorName === "EpochAlreadySettled" || err.errorName === "SettlementInProgress")) {
        return false;
      }
      throw err;
    }
  }

  /** Blocks until the chain reaches `block` (polling), or the agent stops. */
  async waitForBlock(block: bigint): Promise<void> {
    const pollMs = this.options.pollMs ?? 500;
    while (!this.stopped && (await this.chain.blockNumber()) < block) {
      await new Promise((r) => setTimeout(r, pollMs));
    }
    if (this.stopped) throw new CerberusError("STOPPED", "validator stopped");
  }

  /** The live loop: resume pending reveals, then per epoch score → commit → reveal → settle. */
  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.revealDue();
        const committed = await this.scoreAndCommit();
        const epoch = committed?.epoch ?? await this.chain.epochAt(this.brainId, await this.chain.blockNumber());
        const w = await this.chain.windows(this.brainId, epoch);
        await this.waitForBlock(w.revealFrom);
        await this.revealDue();
        await this.waitForBlock(w.revealTo);
        await this.settle(epoch);
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, "epoch failed; retrying next epoch");
        await new Promise((r) => setTimeout(r, this.options.pollMs ?? 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.probing.abort();
    await this.node.stop();
    await this.reference.release();
    this.log.info("validator stopped");
  }
}
