import { randomBytes } from "node:crypto";
import type { Hex } from "viem";
import type { ChainClient } from "../chain/client.ts";
import { weightsCommitHash } from "../chain/yuma.ts";
import { ChainRevertError } from "../chain/errors.ts";
import type { Logger } from "../core/log.ts";
import type { CommitRecord, ValidatorState } from "./state.ts";

const ZERO_HASH = `0x${"0".repeat(64)}`;

export interface EpochWindows { commitFrom: bigint; revealFrom: bigint; revealTo: bigint }

export interface EpochDutiesOptions {
  chain: ChainClient;
  brainId: bigint;
  /** The validator's seat (used for records saved without one). */
  uid: number;
  state: ValidatorState;
  log: Logger;
  /** Miner-steps per settle transaction (default: the whole epoch in one call). */
  settleStepsPerTx?: bigint;
}

/**
 * The time-critical half of a validator: reveals and settlements, driven only by the chain head and the state file.
 * It never waits on scoring (the agent runs it in a loop of its own, and once before anything slow at start-up), so a
 * reveal due is sent within one poll of its window opening, whatever the scoring is doing.
 *
 * Every decision is re-derived from the chain on each call (commitOf, settlementState, EpochSettled), so a process
 * killed at any moment and restarted picks up where the chain is, not where it thought it was.
 */
export class EpochDuties {
  private readonly windowCache = new Map<bigint, EpochWindows>();

  constructor(private readonly o: EpochDutiesOptions) {}

  /** Windows of `epoch` (fixed per Brain: genesis and tempo never change, so they are read once). */
  async windows(epoch: bigint): Promise<EpochWindows> {
    let w = this.windowCache.get(epoch);
    if (w === undefined) {
      w = await this.o.chain.windows(this.o.brainId, epoch);
      if (this.windowCache.size > 64) this.windowCache.clear();
      this.windowCache.set(epoch, w);
    }
    return w;
  }

  /**
   * Draws a salt, persists {uids, weights, salt, hash} (fsync'd), then commits the hash for `epoch`. The one place a
   * commit hash is computed and sent: whatever it binds, the reveal only needs the saved record.
   */
  async commit(epoch: bigint, uids: number[], weights: number[]): Promise<void> {
    const { chain, brainId, state, log, uid } = this.o;
    const salt = `0x${randomBytes(32).toString("hex")}` as Hex;
    const d = chain.deployment;
    const hash = weightsCommitHash({ chainId: BigInt(d.chainId), consensus: d.contracts.Consensus.address, brainId, epoch,
      hotkey: chain.address, validatorUid: uid }, uids, weights, salt);
    state.record({ brainId: brainId.toString(), epoch: epoch.toString(), uid, uids, weights, salt, hash });
    try {
      await chain.commit(brainId, epoch, hash);
    } catch (err) {
      // A revert (simulated, or replayed after a failed inclusion) means this hash is not on-chain: nothing to reveal.
      // Any other error (RPC lost after sending) keeps the record: the commit may have landed.
      if (err instanceof ChainRevertError) state.forget(hash);
      throw err;
    }
    log.info({ epoch: epoch.toString(), uids, weights }, "weights committed");
  }

  /**
   * Reveals every saved commit whose reveal window is open. A record whose window has not opened stays pending; one
   * whose window has passed, whose commit never landed or whose hash is not the on-chain one is marked lost and
   * logged at error level. Returns the epochs revealed by this call.
   */
  async revealDue(block?: bigint): Promise<bigint[]> {
    const { chain, brainId, state, log } = this.o;
    const now = block ?? await chain.blockNumber();
    const revealed: bigint[] = [];
    for (const epoch of epochsOf(state.list(brainId, "pending"))) {
      const w = await this.windows(epoch);
      if (now < w.revealFrom) continue;
      if (now >= w.revealTo) {
        this.lose(epoch, `reveal window [${w.revealFrom}, ${w.revealTo}) passed (block ${now}) before the reveal was sent`);
        continue;
      }
      const candidates = state.forEpoch(brainId, epoch).filter((c) => c.status === "pending");
      const uid = candidates[0]?.uid ?? this.o.uid;
      const onChain = (await chain.commitOf(brainId, epoch, uid)).toLowerCase();
      if (onChain === ZERO_HASH) {
        // Commits for `epoch` can only land during `epoch`, which is over: the transaction never made it.
        this.lose(epoch, "no commit on-chain (the commit transaction never landed)");
        continue;
      }
      const match = candidates.find((c) => c.hash.toLowerCase() === onChain);
      if (match === undefined) {
        this.lose(epoch, `the on-chain commit ${onChain} matches none of the ${candidates.length} saved salt(s)`);
        continue;
      }
      try {
        await this.reveal(epoch, match);
      } catch (err) {
        if (err instanceof ChainRevertError && err.errorName === "RevealWindowClosed") {
          this.lose(epoch, `reveal window [${w.revealFrom}, ${w.revealTo}) closed while the reveal was in flight`);
          continue;
        }
        // Revealed already: by this hotkey before a crash cut the state update.
        if (!(err instanceof ChainRevertError && err.errorName === "AlreadyRevealed")) throw err;
      }
      state.markRevealed(brainId, epoch, match.hash);
      revealed.push(epoch);
      log.info({ epoch: epoch.toString(), uids: match.uids, weights: match.weights }, "weights revealed");
    }
    return revealed;
  }

  /**
   * Settles, oldest first, every epoch this validator revealed whose reveal window has ended (or records that
   * someone else did). Returns the epochs that are now known settled.
   */
  async settleDue(block?: bigint): Promise<bigint[]> {
    const { chain, brainId, state } = this.o;
    const now = block ?? await chain.blockNumber();
    const done: bigint[] = [];
    for (const epoch of epochsOf(state.list(brainId, "revealed"))) {
      // Ascending order: the chain settles a Brain's epochs in order (a later one waits while this one can be settled).
      if (now < (await this.windows(epoch)).revealTo) break;
      if (await this.settleEpoch(epoch) !== "lost") done.push(epoch);
    }
    return done;
  }

  /**
   * Settles `epoch` to the end. A half-done (chunked) settlement of an earlier epoch — another settler that died
   * between chunks — is finished first, since the chain settles one epoch at a time, and so is the previous epoch if
   * it has reveals (epochs settle in order). Returns "settled" if this call completed it, "already" if someone else
   * had, "lost" if it expired unsettled or a later epoch settled first (logged, and the state records are marked
   * lost).
   */
  async settleEpoch(epoch: bigint): Promise<"settled" | "already" | "lost"> {
    const { chain, brainId, state, log } = this.o;
    for (let attempt = 1; ; attempt++) {
      const s = await chain.settlementState(brainId);
      if (s.phase !== 0 && s.epoch !== epoch) {
        log.warn({ epoch: s.epoch.toString(), phase: s.phase, ours: epoch.toString() },
          "finishing another settler's half-done settlement first");
        await this.settleRaced(s.epoch);
        if (s.epoch > epoch) return this.settledOrLost(epoch);
        continue;
      }
      if (s.phase === 0 && s.settledAny && s.epoch === epoch) {
        state.markSettled(brainId, epoch);
        log.info({ epoch: epoch.toString() }, "epoch already settled by another settler");
        return "already";
      }
      if (s.phase === 0 && s.settledAny && s.epoch > epoch) return this.settledOrLost(epoch);
      // An epoch expires when the reveal window of epoch + 2 opens (its weights start to be overwritten): it can no
      // longer be settled and its accrual goes back to the emission schedule at the next settlement.
      const w = await this.windows(epoch);
      const expiry = (await this.windows(epoch + 2n)).revealFrom;
      const head = await chain.blockNumber();
      if (head >= expiry) {
        this.lose(epoch, `it expired unsettled at block ${expiry} (the reveal window of epoch ${epoch + 2n} opened)`);
        return "lost";
      }
      // Epochs settle in order: the one before, while it has reveals and has not expired (at the reveal window of
      // epoch + 1, one tempo after this epoch's), must be settled first.
      const prior = epoch - 1n;
      const priorExpiry = w.revealFrom + (w.revealFrom - w.commitFrom);
      if (epoch > 0n && (!s.settledAny || s.epoch < prior) && head < priorExpiry &&
        await chain.anyReveal(brainId, prior, (await this.windows(prior)).revealFrom)) {
        log.info({ epoch: prior.toString(), ours: epoch.toString() }, "settling the previous epoch first: it has reveals");
        await this.settleRaced(prior);
        continue;
      }
      try {
        const r = await chain.settle(brainId, epoch, this.o.settleStepsPerTx);
        state.markSettled(brainId, epoch);
        log.info({ epoch: epoch.toString(), transactions: r.transactions, gas: r.gasUsed.toString(),
          readyAt: w.revealTo.toString() }, "epoch settled");
        return "settled";
      } catch (err) {
        // Someone settled or started settling between our read and our transaction: look again.
        if (!raced(err) || attempt >= 8) throw err;
      }
    }
  }

  /** Sends a reveal. If a settlement of epoch − 2 (whose weights share the buffer) was left half-done by another
   *  settler, the chain refuses the reveal until it ends: finish it, then reveal. */
  private async reveal(epoch: bigint, c: { uids: number[]; weights: number[]; salt: Hex }): Promise<void> {
    const { chain, brainId, log } = this.o;
    try {
      await chain.reveal(brainId, epoch, c.uids, c.weights, c.salt);
    } catch (err) {
      if (!(err instanceof ChainRevertError && err.errorName === "SettlementInProgress")) throw err;
      const s = await chain.settlementState(brainId);
      log.warn({ epoch: s.epoch.toString(), ours: epoch.toString() }, "finishing a half-done settlement before revealing");
      await this.settleRaced(s.epoch);
      await chain.reveal(brainId, epoch, c.uids, c.weights, c.salt);
    }
  }

  /** Runs settle(epoch) to the end, tolerating another settler finishing it under us. */
  private async settleRaced(epoch: bigint): Promise<void> {
    try {
      await this.o.chain.settle(this.o.brainId, epoch, this.o.settleStepsPerTx);
      this.o.log.info({ epoch: epoch.toString() }, "settled an epoch that was not ours to keep the order");
    } catch (err) {
      if (!raced(err)) throw err;
    }
  }

  /** After a settlement at or beyond `epoch`: was `epoch` itself settled (EpochSettled), or skipped for good? */
  private async settledOrLost(epoch: bigint): Promise<"already" | "lost"> {
    const { chain, brainId, state, log } = this.o;
    const w = await this.windows(epoch);
    if (await chain.epochSettledBlock(brainId, epoch, w.revealTo) !== undefined) {
      state.markSettled(brainId, epoch);
      log.info({ epoch: epoch.toString() }, "epoch already settled by another settler");
      return "already";
    }
    const s = await chain.settlementState(brainId);
    this.lose(epoch, `a later epoch (${s.epoch}) settled first; epochs settle in order, so epoch ${epoch} never can`);
    return "lost";
  }

  private lose(epoch: bigint, why: string): void {
    this.o.state.markLost(this.o.brainId, epoch, why);
    this.o.log.error({ epoch: epoch.toString(), why }, "epoch lost: weights of this validator will not count");
  }
}

/** A settle that lost a race with another settler (or with a reveal of the previous epoch): look again. */
function raced(err: unknown): boolean {
  return err instanceof ChainRevertError && (err.errorName === "EpochAlreadySettled" ||
    err.errorName === "SettlementInProgress" || err.errorName === "EarlierEpochUnsettled");
}

/** Distinct epochs of some records, ascending. */
function epochsOf(records: readonly CommitRecord[]): bigint[] {
  return [...new Set(records.map((r) => r.epoch))].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
