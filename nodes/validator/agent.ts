import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Hex } from "viem";
import { loadPinnedModel, type BrainModel } from "../client/brain-model.ts";
import { InferClient, seatAddress, type TransportOptions } from "../client/transport.ts";
import type { ChainClient } from "../chain/client.ts";
import { weightsCommitHash } from "../chain/yuma.ts";
import { ChainRevertError } from "../chain/errors.ts";
import { CerberusError } from "../core/errors.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { createCerberusNode, type CerberusNode } from "../net/node.ts";
import { challengeMiner, PlaintextReference, sampleContexts } from "./challenge.ts";
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
  /** Challenges per miner per epoch (default 4). */
  challengesPerMiner?: number;
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

  private constructor(
    readonly chain: ChainClient,
    readonly brainId: bigint,
    readonly node: CerberusNode,
    readonly infer: InferClient,
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
    // A validator only dials out; its peer info on-chain is informational (it serves nothing).
    const node = await createCerberusNode({ listen: [] });
    const reference = await PlaintextReference.create(model);
    const uid = await chain.register(brainId, "Validator", { peerId: node.peerId.toString(), multiaddrs: [] });
    log.info({ brainId: brainId.toString(), uid, pendingReveals: state.unrevealed.length }, "validator ready");
    return new ValidatorAgent(chain, brainId, node, new InferClient(node, options.transport), model, reference, state,
      uid, options, log);
  }

  /** Challenges every miner of the Brain and returns scores and the weights it would commit. */
  async score(): Promise<Omit<EpochScores, "epoch">> {
    const brain = await this.chain.brain(this.brainId);
    const count = this.options.challengesPerMiner ?? 4;
    const rule = this.options.scoring ?? DEFAULT_SCORING;
    const scores: MinerScore[] = [];
    for (const miner of brain.miners) {
      const contexts = sampleContexts(this.options.heldOut, this.model.client.vocab, this.model.client.n, count,
        this.options.random);
      const outcomes = miner.peerId === ""
        ? contexts.map(() => ({ answered: false, top1Match: false, maxRelError: Infinity, ms: 0 }))
        : await challengeMiner({ model: this.model, reference: this.reference, infer: this.infer,
          miner: seatAddress(miner), contexts });
      const s = scoreMiner(miner.uid, outcomes, rule);
      scores.push(s);
      this.log.info({ miner: miner.uid, correct: s.correct, of: s.challenges, medianMs: Math.round(s.medianMs),
        score: +s.score.toFixed(3) }, "miner scored");
    }
    return { scores, ...toWeights(scores) };
  }

  /** Scores the miners and commits for the current epoch (salt persisted first). Undefined if nothing to commit. */
  async scoreAndCommit(): Promise<EpochScores | undefined> {
    const result = await this.score();
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
    const d = this.chain.deployment;
    const hash = weightsCommitHash({ chainId: BigInt(d.chainId), consensus: d.contracts.Consensus.address, brainId: this.brainId,
      epoch, hotkey: this.chain.address, validatorUid: this.uid }, uids, weights, salt);
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
    await this.node.stop();
    await this.reference.release();
    this.log.info("validator stopped");
  }
}
