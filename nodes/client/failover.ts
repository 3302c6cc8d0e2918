import { CerberusError, toCerberusError } from "../core/errors.ts";
import type { SessionKeys } from "../net/evaluator.ts";
import { AllMinersFailedError, RemoteError, TransportError } from "../net/errors.ts";
import type { InferClient, MinerAddress, RemoteSession, RequestOptions, StepOptions, StepResult } from "./transport.ts";

/** A round after the first failed: the word must run again from round 0 (on the next miner, with a prefill). */
export class RestartWordError extends CerberusError {
  constructor(message: string) { super("RESTART_WORD", message); }
}

export interface FailoverEvent {
  from: MinerAddress;
  /** The next miner to try, or undefined if none is left. */
  to: MinerAddress | undefined;
  error: CerberusError;
  phase: "open" | "step";
}

export interface FailoverOptions {
  onFailover?: (event: FailoverEvent) => void;
  /**
   * BUSY: the miner states when it expects room (`retryAfterMs`). A stated wait up to `maxBusyWaitMs` (default 10 s)
   * is waited out and the same miner asked again (queueing there: moving costs a fresh key upload), as long as the
   * waits of this open or step add up to at most `busyBudgetMs` (default 30 s); a longer stated wait, or one past
   * the budget, moves on to the next miner like any failure. Users and validator probes share this rule, so a miner
   * sees the same reaction to a BUSY from both.
   */
  maxBusyWaitMs?: number;
  busyBudgetMs?: number;
  /** Called before each wait on a BUSY miner (counts, logs). */
  onBusy?: (event: { miner: MinerAddress; waitMs: number; phase: "open" | "step" }) => void;
}

export interface FailoverStats {
  failovers: number;
  sessionsOpened: number;
  /** Key-upload bytes over all sessions opened (a failover costs one more upload). */
  openBytesUp: number;
  /** Wall time of the successful key uploads (session opens), summed. */
  openMs: number;
  bytesUp: number;
  bytesDown: number;
  roundTrips: number;
  steps: number;
  /** BUSY replies waited out on the same miner, and the time spent waiting. */
  busyWaits: number;
  busyWaitMs: number;
}

/**
 * Errors that say "the caller's request itself is bad or cancelled", raised locally before or instead of a miner's
 * answer: moving to another miner would not help. (A TOO_LARGE *reply* from a miner is a RemoteError and does fail
 * over: another miner may have larger caps.)
 */
function isCallerError(err: unknown): boolean {
  if (!(err instanceof CerberusError) || err instanceof RemoteError) return false;
  return err.code === "ABORTED" || err.code === "SESSION_CLOSED" || err.code === "TOO_LARGE";
}

/**
 * A session that survives miners failing: given miners in order of preference, it opens on the first that accepts,
 * and when a step fails (error reply, timeout, reset, bad reply) it opens a session on the next miner and re-sends
 * the SAME step. The caller (the generate loop, a validator) keeps its own state and never sees the switch except
 * through `onFailover`. Two failures stay on the same miner: UNKNOWN_SESSION (expired keys: upload them again,
 * once per step) and BUSY with a short stated wait (waited out, see FailoverOptions); every other failure moves on.
 * It never goes back to a miner that failed: when none is left the caller gets AllMinersFailedError listing every
 * miner's code (BUSY included), never a silent timeout.
 */
export class FailoverSession {
  readonly stats: FailoverStats = {
    failovers: 0, sessionsOpened: 0, openBytesUp: 0, openMs: 0, bytesUp: 0, bytesDown: 0, roundTrips: 0, steps: 0,
    busyWaits: 0, busyWaitMs: 0,
  };
  readonly failures: { peerId: string; code: string; message: string }[] = [];
  private index = 0;
  private session: RemoteSession | undefined;
  private opening: Promise<RemoteSession> | undefined;

  constructor(
    private readonly client: InferClient,
    private readonly miners: readonly MinerAddress[],
    private readonly keys: SessionKeys,
    private readonly options: FailoverOptions = {},
  ) {}

  /** The miner currently serving, if a session is open. */
  get current(): MinerAddress | undefined { return this.session?.miner; }

  /** Opens a session on the first miner (from the current position) that accepts. */
  async open(options: RequestOptions = {}): Promise<RemoteSession> {
    if (this.session !== undefined) return this.session;
    // concurrent callers share one opening instead of each uploading keys
    this.opening ??= this.openNext(options).finally(() => { this.opening = undefined; });
    return this.opening;
  }

  /**
   * Whether to wait out a BUSY (and how long), per the rule in FailoverOptions; `waited` is this request's total so
   * far. Undefined: move on.
   */
  private busyWait(err: unknown, waited: number): number | undefined {
    if (!(err instanceof RemoteError) || err.code !== "BUSY") return undefined;
    const stated = Math.max(50, err.retryAfterMs ?? 250);
    if (stated > (this.options.maxBusyWaitMs ?? 10_000)) return undefined;
    if (waited + stated > (this.options.busyBudgetMs ?? 30_000)) return undefined;
    return stated;
  }

  private async waitBusy(miner: MinerAddress, ms: number, phase: "open" | "step", signal?: AbortSignal): Promise<void> {
    this.options.onBusy?.({ miner, waitMs: ms, phase });
    this.stats.busyWaits += 1;
    this.stats.busyWaitMs += ms;
    await sleep(ms, signal);
  }

  private async openNext(options: RequestOptions): Promise<RemoteSession> {
    let waited = 0;
    while (this.session === undefined) {
      const miner = this.miners[this.index];
      if (miner === undefined) throw new AllMinersFailedError(this.failures);
      try {
        this.session = await this.client.openSession(miner, this.keys, options);
        this.stats.sessionsOpened += 1;
        this.stats.openBytesUp += this.session.stats.open.bytesUp;
        this.stats.openMs += this.session.stats.open.ms;
      } catch (err) {
        // A BUSY open was refused at its header, before the keys were sent: a short stated wait is waited out.
        const wait = this.busyWait(err, waited);
        if (wait !== undefined) {
          waited += wait;
          await this.waitBusy(miner, wait, "open", options.signal);
          continue;
        }
        waited = 0;
        this.fail(miner, err, "open");
      }
    }
    return this.session;
  }

  /** Runs one step, failing over as needed. Meant for sequential use; concurrent steps are safe but share failover. */
  async step(inputs: readonly Uint8Array[], options: RequestOptions = {}): Promise<StepResult & { miner: MinerAddress }> {
    return this.stepDecoded(inputs, () => undefined, options);
  }

  /**
   * Like `step`, with `decode` (e.g. decrypt) run on the outputs inside the failover: a result that does not decode
   * — undecryptable, a decompression bomb, the wrong shape — is that miner's failure, and the same step goes to the
   * next miner instead of failing the caller.
   */
  async stepDecoded<T>(
    inputs: readonly Uint8Array[] | (() => readonly Uint8Array[]), decode: (outputs: Uint8Array[]) => T, options: StepOptions = {},
  ): Promise<StepResult & { miner: MinerAddress; value: T }> {
    let reopenedSameMiner = false;
    let waited = 0;
    for (;;) {
      const session = await this.open(options);
      try {
        const result = await session.step(typeof inputs === "function" ? inputs() : inputs, options);
        const value = decode(result.outputs);
        this.stats.steps += 1;
        this.stats.bytesUp += result.stats.bytesUp;
        this.stats.bytesDown += result.stats.bytesDown;
        this.stats.roundTrips += result.stats.roundTrips;
        return { ...result, miner: session.miner, value };
      } catch (err) {
        if (isCallerError(err)) throw err; // the session itself is fine; keep it
        const wait = this.busyWait(err, waited);
        if (wait !== undefined) {
          waited += wait;
          await this.waitBusy(session.miner, wait, "step", options.signal);
          continue;
        }
        // Another concurrent step may already have replaced this session: then just use the new one.
        if (this.session !== session) continue;
        this.session = undefined;
        if (err instanceof CerberusError && err.code === "UNKNOWN_SESSION" && !reopenedSameMiner) {
          reopenedSameMiner = true; // our keys expired on this miner: upload them again, same miner
          continue;
        }
        session.close({ timeoutMs: 1_000 }).catch(() => {}); // best effort: the miner may be gone
        this.fail(session.miner, err, "step");
      }
    }
  }

  /**
   * One round of a word of a round plan (the transformer's). The miner keeps state between rounds (the key/value cache
   * and the registers of the word in progress), so a failover is only possible at a word's round 0, where the inputs
   * are rebuilt for the new session: `build(fresh)` with fresh = this session does not hold our cache yet (the client
   * then includes the prefill). A later round gets one attempt (a short stated BUSY is waited out, as for a step):
   * on any other failure this miner is marked failed and RestartWordError tells the caller to run the word again from
   * round 0, which opens on the next miner.
   */
  async round<T>(round: number, build: (fresh: boolean) => Uint8Array[], decode: (outputs: Uint8Array[]) => T,
    options: RequestOptions = {}): Promise<StepResult & { miner: MinerAddress; value: T; fresh: boolean }> {
    if (round === 0) {
      let fresh = false;
      const r = await this.stepDecoded(() => {
        fresh = this.session !== this.stateSession;
        return build(fresh);
      }, decode, { ...options, round: 0 });
      this.stateSession = this.session;
      return { ...r, fresh };
    }
    const session = this.session;
    if (session === undefined || session !== this.stateSession) throw new RestartWordError("no session holds this word's state");
    let waited = 0;
    const inputs = build(false);
    for (;;) {
      try {
        const result = await session.step(inputs, { ...options, round });
        const value = decode(result.outputs);
        this.stats.bytesUp += result.stats.bytesUp;
        this.stats.bytesDown += result.stats.bytesDown;
        this.stats.roundTrips += result.stats.roundTrips;
        return { ...result, miner: session.miner, value, fresh: false };
      } catch (err) {
        if (isCallerError(err)) throw err;
        const wait = this.busyWait(err, waited);
        if (wait !== undefined) {
          waited += wait;
          await this.waitBusy(session.miner, wait, "step", options.signal);
          continue;
        }
        this.session = undefined;
        this.stateSession = undefined;
        session.close({ timeoutMs: 1_000 }).catch(() => {});
        this.fail(session.miner, err, "step");
        throw new RestartWordError(`round ${round} failed on ${session.miner.peerId}: ${toCerberusError(err).code}`);
      }
    }
  }

  /** The session whose miner holds our round state (the word's cache), if any. */
  private stateSession: RemoteSession | undefined;

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s !== undefined) await s.close().catch(() => {});
  }

  private fail(miner: MinerAddress, err: unknown, phase: "open" | "step"): void {
    if (isCallerError(err)) throw err;
    const error = toCerberusError(err);
    this.failures.push({ peerId: miner.peerId, code: error.code, message: error.message });
    this.index += 1;
    this.stats.failovers += 1;
    this.options.onFailover?.({ from: miner, to: this.miners[this.index], error, phase });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new TransportError("ABORTED", "request aborted by the caller", { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
