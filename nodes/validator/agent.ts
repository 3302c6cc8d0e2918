import { setMaxListeners } from "node:events";
import { loadClientMixture, loadPinnedModel, type BrainModel } from "../client/brain-model.ts";
import type { LmMixture } from "../model/mixture.ts";
import { seatAddress, type TransportOptions } from "../client/transport.ts";
import { USER_WORKLOAD, type WorkloadModel } from "../client/workload.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { ChainClient } from "../chain/client.ts";
import { ChainRevertError } from "../chain/errors.ts";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { createCerberusNode, type CerberusNode } from "../net/node.ts";
import { PlaintextReference } from "./challenge.ts";
import { planProbes, runProbes } from "./probes.ts";
import { scoreMiner, scoringFor, toWeights, type MinerScore, type ScoringRule } from "./scoring.ts";
import { EpochDuties } from "./duties.ts";
import { revealAtStartup, validatorStatePath } from "./startup.ts";
import { ValidatorState } from "./state.ts";

export interface ValidatorAgentOptions {
  chain: ChainClient;
  brainId: bigint;
  /** Held-out words to build challenges from (the validation split), mapped into the Brain's vocabulary. */
  heldOut: readonly string[];
  modelDir?: string;
  modelName?: string;
  /** Where commits, reveals and settlements owed are persisted (default ".cerberus/validator-<hotkey>"). */
  dataDir?: string;
  /** Probe sessions per miner per epoch (default 4); each is a whole generation session (see probes.ts). */
  challengesPerMiner?: number;
  /** Session lengths and think times of probes: the user workload model (default USER_WORKLOAD). */
  workload?: WorkloadModel;
  /**
   * Probe start times are spread over this window when `score` is given no deadline (default: up to the end of the
   * epoch's commit window; 0 = all at once, for orchestrated demos and tests that fast-forward the chain).
   */
  probeWindowMs?: number;
  /** Expected block time, to turn a deadline block into the probe window (default 2,000 ms). */
  blockTimeMs?: number;
  /** Time kept free before the deadline for the last probes to end and the commit to land (default 60 s). */
  probeTailMs?: number;
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
 *  - the scoring loop: per epoch e, `score(e, deadlineBlock)` probes every miner with real generation sessions (held-out
 *    prompts, fresh never-registered identities, lengths and start times from the user workload model, spread up to
 *    the deadline; probes.ts), then commits the bound weights hash in epoch e;
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
   * Probes every miner of the Brain with sessions spread over the time left until `deadlineBlock` (minus the tail
   * the last sessions need), or over `probeWindowMs` without a deadline, and returns scores and the weights to commit
   * for `epoch`. Accuracy and latency come from every step of every probe (scoring.ts).
   */
  async score(epoch?: bigint, deadlineBlock?: bigint): Promise<Omit<EpochScores, "epoch">> {
    const brain = await this.chain.brain(this.brainId);
    const rule = this.options.scoring ?? scoringFor(this.model.kind);
    let windowMs = this.options.probeWindowMs ?? 0;
    if (deadlineBlock !== undefined) {
      const left = Number(deadlineBlock - (await this.chain.blockNumber())) * (this.options.blockTimeMs ?? 2_000);
      windowMs = Math.max(0, left - (this.options.probeTailMs ?? 60_000));
    }
    // Each seat is dialled bound to its hotkey: a miner answering for another seat's hotkey is refused (and scores 0).
    const plan = planProbes(brain.miners.map((m) => ({ uid: m.uid, ...seatAddress(m) })), {
      sessionsPerMiner: this.options.challengesPerMiner ?? 4, windowMs,
      workload: this.options.workload ?? USER_WORKLOAD, heldOut: this.options.heldOut,
      ...(this.options.random !== undefined ? { random: this.options.random } : {}),
    });
    this.log.info({ epoch: epoch?.toString(), probes: plan.length, windowMs: Math.round(windowMs) }, "probing miners");
    const outcomes = await runProbes(plan, {
      model: this.model, reference: this.reference, signal: this.probing.signal, logger: this.log,
      ...(this.mixture !== undefined ? { mixture: this.mixture } : {}),
      ...(this.options.client !== undefined ? { client: this.options.client } : {}),
      ...(this.options.transport !== undefined ? { transport: this.options.transport } : {}),
    });
    const scores: MinerScore[] = [];
    for (const miner of brain.miners) {
      const s = scoreMiner(miner.uid, outcomes.get(miner.uid) ?? [], rule);
      scores.push(s);
      this.log.info({ miner: miner.uid, correct: s.correct, of: s.challenges, medianMs: Math.round(s.medianMs),
        score: +s.score.toFixed(3) }, "miner scored");
    }
    if (deadlineBlock !== undefined && (await this.chain.blockNumber()) > deadlineBlock) {
      this.log.warn({ epoch: epoch?.toString(), deadlineBlock: deadlineBlock.toString() }, "scoring overran its deadline");
    }
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
    while (!this.stopped && (await this.chain.blockNumber()) < block) {
      await sleep(pollMs);
    }
    if (this.stopped) throw new CerberusError("STOPPED", "validator stopped");
  }

  /** The live agent: the duty loop and the scoring loop, side by side, until `stop`. */
  async run(): Promise<void> {
    await Promise.all([this.dutyLoop(), this.scoringLoop()]);
  }

  private async dutyLoop(): Promise<void> {
    const pollMs = this.options.pollMs ?? 500;
    while (!this.stopped) {
      try {
        const block = await this.chain.blockNumber();
        await this.duties.revealDue(block);
        await this.duties.settleDue(block);
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, "reveal/settle failed; retrying");
      }
      await sleep(pollMs);
    }
  }

  private async scoringLoop(): Promise<void> {
    const margin = this.options.commitMarginBlocks ?? (this.tempo / 10n > 2n ? this.tempo / 10n : 2n);
    while (!this.stopped) {
      try {
        const block = await this.chain.blockNumber();
        const epoch = await this.chain.epochAt(this.brainId, block);
        const w = await this.duties.windows(epoch);
        const deadline = w.revealFrom - margin;
        if (await this.hasCommit(epoch)) {
          // Committed already (before a restart): the next epoch is the next one to score.
        } else if (block >= deadline) {
          this.log.info({ epoch: epoch.toString(), block: block.toString(), deadline: deadline.toString() },
            "too late in the epoch to score; waiting for the next one");
        } else {
          this.log.info({ epoch: epoch.toString(), deadline: deadline.toString() }, "scoring started");
          await this.scoreAndCommit(epoch, deadline);
        }
        await this.waitForBlock(w.revealFrom);
      } catch (err) {
        if (this.stopped) return;
        this.log.error({ err: err instanceof Error ? err.message : String(err) }, "scoring failed; retrying");
        await sleep(this.options.pollMs ?? 500);
      }
    }
  }

  private async currentEpoch(): Promise<bigint> {
    return this.chain.epochAt(this.brainId, await this.chain.blockNumber());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.probing.abort();
    await this.node.stop();
    await this.reference.release();
    this.log.info("validator stopped");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
