import { MessageChannel, Worker } from "node:worker_threads";
import * as errors from "./errors.ts";
import type { EvalSession, EvaluatorMemory, SessionKeys } from "./evaluator.ts";
import { planSummary, type PlanDescriptor, type PlanOptions, type PlanSummary } from "./plan.ts";
import { abortSplit, SPLIT_SIGNAL_BYTES } from "./split-channel.ts";

/**
 * Parallelism: the same miner surface as MinerEvaluator, but evaluations run in `threads` worker threads (node-seal is
 * single-threaded WASM; two cores → at most two evaluations at once). Every worker holds its own copy of the encoded
 * weights (≈ 34 MiB for the Brown LM) and the keys of every open session (≈ 24 MiB each), so one FIFO queue feeds
 * whichever worker is free. When a step finds the queue empty, a second worker idle and fewer sessions open than
 * workers, the two split it (`MinerEvaluator.runSplit`): a lone user on an idle miner gets both cores for one step.
 * The main thread's event loop stays free throughout.
 */
export interface WorkerPoolOptions {
  readonly threads?: number;
  /** Split a step over two idle workers when nothing else waits (default true; only plans the split supports). */
  readonly split?: boolean;
}

type Reply = { id: number; ok: boolean; value?: unknown; error?: { name: string; code?: string; message: string } };

export function rebuildError(e: { name: string; code?: string; message: string }): Error {
  const Ctor = (errors as Record<string, unknown>)[e.name];
  if (typeof Ctor === "function" && e.code) {
    // Typed errors keep their class across the thread boundary (constructors differ; set fields directly).
    const err = Object.create((Ctor as { prototype: object }).prototype) as errors.FheError;
    Object.assign(err, { name: e.name, message: e.message, code: e.code, stack: `${e.name}: ${e.message}` });
    return err;
  }
  return e.code ? new errors.FheError(e.code, e.message) : new Error(e.message);
}

class PoolWorker {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Sessions whose keys are loaded in this worker. */
  readonly sids = new Set<number>();
  busy = false;
  dead = false;
  constructor(readonly worker: Worker, onDeath: (pw: PoolWorker) => void) {
    worker.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(rebuildError(m.error!));
    });
    const die = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      for (const p of this.pending.values()) p.reject(new errors.WorkerLostError(why));
      this.pending.clear();
      onDeath(this);
    };
    worker.on("error", (err) => die(`FHE worker failed: ${err.message}`));
    worker.on("exit", (code) => die(`FHE worker exited (code ${code})`));
  }
  call<T>(msg: Record<string, unknown>, transfer: (ArrayBuffer | MessagePort)[] = []): Promise<T> {
    if (this.dead) return Promise.reject(new errors.WorkerLostError("FHE worker is gone"));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer as never[]);
    });
  }
}

interface Started { w: Worker; descriptor: PlanDescriptor; memory: EvaluatorMemory; splittable: boolean }

/** One worker compiled and ready (or the typed error its initialisation ended in). */
function spawn(modelBytes: Uint8Array, plan: PlanOptions): Promise<Started> {
  const boot = new URL("./worker-boot.mjs", import.meta.url);
  const entry = new URL("./worker-entry.ts", import.meta.url).href;
  const w = new Worker(boot, { workerData: { entry, modelBytes, plan } });
  return new Promise<Started>((resolve, reject) => {
    const onMsg = (m: { type?: string; descriptor?: PlanDescriptor; memory?: EvaluatorMemory; splittable?: boolean;
      error?: Reply["error"] }) => {
      if (m.type === "ready") {
        w.off("message", onMsg);
        resolve({ w, descriptor: m.descriptor!, memory: m.memory!, splittable: m.splittable === true });
      }
      if (m.type === "init-error") { w.off("message", onMsg); void w.terminate(); reject(rebuildError(m.error!)); }
    };
    w.on("message", onMsg);
    w.once("error", reject); // stays attached: a late error before adoption must not be an unhandled 'error' event
  });
}

export interface PoolStats {
  readonly threads: number;
  readonly live: number;
  /** Workers started to replace dead or retired ones since creation. */
  readonly replaced: number;
  /** Steps waiting for a worker. */
  readonly queued: number;
  /** Steps evaluated split over two workers / on one. */
  readonly splitSteps: number;
  readonly wholeSteps: number;
  /** Wall time those steps took in the pool, summed (ms; a step's time from dispatch to its output): what the miner
   * adds to a user's word, apart from the queue and the wire. */
  readonly splitStepMs: number;
  readonly wholeStepMs: number;
}

interface PoolSession { sid: number; closed: boolean; lost: boolean }

/** Every this many lone steps, the mode that has been slower lately is tried again (conditions change). */
const EXPLORE_EVERY = 8;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}
interface Job {
  session: PoolSession;
  inputs: Uint8Array[];
  resolve: (out: Uint8Array[]) => void;
  reject: (err: Error) => void;
}

/**
 * A worker that dies (a WASM abort, an exit) or fails with an untyped error (its heap may be corrupt) is retired
 * and replaced, so no request can take the pool down one worker at a time; a session whose step was running there
 * ends with WorkerLostError (its input may be what killed the worker: it is not retried elsewhere) and its client
 * opens a new one. Other sessions carry on in the workers that hold their keys; a replacement holds only the keys
 * of sessions opened after it started.
 */
export class WorkerPoolEvaluator {
  readonly planId: string;
  readonly descriptor: PlanDescriptor;
  readonly planSummary: PlanSummary;
  /** Per worker (multiply by `threads` for the process). */
  readonly memory: EvaluatorMemory;
  private nextSid = 1;
  private disposed = false;
  private replaced = 0;
  private splitSteps = 0;
  private wholeSteps = 0;
  private splitStepMs = 0;
  private wholeStepMs = 0;
  private readonly workers: PoolWorker[] = [];
  private readonly respawning = new Set<Promise<void>>();
  private readonly queue: Job[] = [];
  private readonly canSplit: boolean;
  /** Sessions open in the pool (a split pays only while there are fewer sessions than workers). */
  private openCount = 0;
  /**
   * Recent wall times of lone steps, split and whole. A split needs two cores at once: on a machine whose other jobs
   * leave one, it is slower than a whole step (measured: 443 vs 378 ms per word at load 5), so the pool keeps doing
   * whichever of the two has been faster lately, trying the other every `EXPLORE_EVERY`-th lone step.
   */
  private readonly lone = { split: [] as number[], whole: [] as number[], steps: 0 };

  private constructor(started: Started[], private readonly modelBytes: Uint8Array, private readonly plan: PlanOptions,
    split: boolean) {
    this.descriptor = started[0].descriptor;
    this.planId = this.descriptor.planId;
    this.planSummary = planSummary(this.descriptor);
    this.memory = started[0].memory;
    this.canSplit = split && started[0].splittable;
    for (const s of started) this.workers.push(this.adopt(s.w));
  }

  static async create(modelBytes: Uint8Array, plan: PlanOptions = {}, pool: WorkerPoolOptions = {}): Promise<WorkerPoolEvaluator> {
    const threads = Math.max(1, Math.floor(pool.threads ?? 1));
    const results = await Promise.allSettled(Array.from({ length: threads }, () => spawn(modelBytes, plan)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      for (const r of results) if (r.status === "fulfilled") await r.value.w.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    return new WorkerPoolEvaluator(results.map((r) => (r as PromiseFulfilledResult<Started>).value), modelBytes, plan,
      pool.split ?? true);
  }

  /** Evaluations run at once: the miner service queues beyond this. */
  get parallelism(): number { return this.workers.length; }

  /** Whether an idle pool splits a step over two workers (the plan's shape allows it and it was not turned off). */
  get splits(): boolean { return this.canSplit && this.workers.length >= 2; }

  private adopt(w: Worker): PoolWorker {
    return new PoolWorker(w, (dead) => this.replace(dead));
  }

  private replace(dead: PoolWorker): void {
    if (this.disposed) return;
    const job = spawn(this.modelBytes, this.plan).then((s) => {
      if (this.disposed) { void s.w.terminate(); return; }
      this.workers[this.workers.indexOf(dead)] = this.adopt(s.w);
      this.replaced++;
      this.dispatch();
    }, () => undefined /* the same model compiled before; a failure here leaves the slot dead (stats().live shows it) */);
    this.respawning.add(job);
    void job.finally(() => this.respawning.delete(job));
    this.dispatch(); // queued steps of sessions whose keys only the dead worker held now fail
  }

  stats(): PoolStats {
    return { threads: this.workers.length, live: this.workers.filter((w) => !w.dead).length, replaced: this.replaced,
      queued: this.queue.length, splitSteps: this.splitSteps, wholeSteps: this.wholeSteps,
      splitStepMs: this.splitStepMs, wholeStepMs: this.wholeStepMs };
  }

  /** Resolves once no replacement is being started. */
  async settled(): Promise<void> {
    while (this.respawning.size > 0) await Promise.all([...this.respawning]);
  }

  /** Loads the keys in every live worker (validated there: typed errors come back); any worker may then run a step. */
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    if (this.disposed) throw new errors.ClosedError("evaluator");
    let live = this.workers.filter((w) => !w.dead);
    if (live.length === 0) { await this.settled(); live = this.workers.filter((w) => !w.dead); }
    if (live.length === 0) throw new errors.WorkerLostError("no FHE worker is running");
    const sid = this.nextSid++;
    const msg = { type: "open", sid, keys: { planId: keys.planId, galoisKeys: keys.galoisKeys, relinKeys: keys.relinKeys } };
    const loaded = await Promise.allSettled(live.map((pw) => this.guard(pw, pw.call(msg)).then(() => pw)));
    const holders = loaded.filter((r): r is PromiseFulfilledResult<PoolWorker> => r.status === "fulfilled").map((r) => r.value);
    const failure = loaded.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure !== undefined && (holders.length === 0 || failure.reason instanceof errors.FheError &&
        !(failure.reason instanceof errors.WorkerLostError))) {
      // Bad keys are bad everywhere; a worker lost while loading is fine if another one holds them.
      for (const pw of holders) void pw.call({ type: "close", sid }).catch(() => undefined);
      throw failure.reason;
    }
    for (const pw of holders) pw.sids.add(sid);
    this.openCount += 1;
    const session: PoolSession = { sid, closed: false, lost: false };
    const pool = this;
    return {
      get closed() { return session.closed || !pool.workers.some((w) => !w.dead && w.sids.has(sid)); },
      evaluate(inputs: Uint8Array[]): Promise<Uint8Array[]> {
        if (session.lost) return Promise.reject(new errors.WorkerLostError("this session's step was running in an FHE worker that died"));
        if (session.closed) return Promise.reject(new errors.ClosedError("session"));
        return new Promise<Uint8Array[]>((resolve, reject) => {
          pool.queue.push({ session, inputs, resolve, reject });
          // Steps arriving in the same tick are all queued before any is placed, so a burst is not split.
          queueMicrotask(() => pool.dispatch());
        });
      },
      close(): void {
        if (session.closed) return;
        session.closed = true;
        pool.openCount -= 1;
        pool.forget(sid);
      },
    };
  }

  private forget(sid: number): void {
    for (const pw of this.workers) {
      if (pw.sids.delete(sid)) void pw.call({ type: "close", sid }).catch(() => undefined);
    }
  }

  /**
   * Starts queued steps on idle workers, oldest first. A step whose session no live worker holds fails at once
   * (WorkerLostError); one whose holders are all busy waits. The last step in the queue takes two idle workers if
   * the pool splits.
   */
  private dispatch(): void {
    if (this.disposed) return;
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i]!;
      const holders = this.workers.filter((w) => !w.dead && w.sids.has(job.session.sid));
      if (job.session.closed || holders.length === 0) {
        this.queue.splice(i, 1);
        job.reject(job.session.closed ? new errors.ClosedError("session")
          : new errors.WorkerLostError("the FHE workers holding this session's keys are gone"));
        continue;
      }
      const idle = holders.filter((w) => !w.busy);
      if (idle.length === 0) { i++; continue; }
      this.queue.splice(i, 1);
      // Split only a lone user's step: with as many sessions as workers, the other users' next steps will want the
      // second worker, and a split costs ≈ 17% more work in total (the last layer's baby rotations run on both).
      const lone = this.canSplit && idle.length >= 2 && this.queue.length === 0 && this.openCount < this.workers.length;
      if (lone && this.splitPays()) this.runSplit(job, idle[0]!, idle[1]!);
      else this.runWhole(job, idle[0]!, lone);
    }
  }

  /**
   * Whether this lone step should be split: the faster mode lately (a split must beat a whole step by 5%), the other
   * one every EXPLORE_EVERY-th lone step; until both have 3 samples, split except every 4th.
   */
  private splitPays(): boolean {
    const { split, whole } = this.lone;
    const n = ++this.lone.steps;
    if (split.length < 3 || whole.length < 3) return n % 4 !== 0;
    const faster = median(split) < 0.95 * median(whole);
    return n % EXPLORE_EVERY === 0 ? !faster : faster;
  }

  private static remember(list: number[], ms: number): void {
    list.push(ms);
    if (list.length > 8) list.shift();
  }

  private runWhole(job: Job, pw: PoolWorker, lone = false): void {
    pw.busy = true;
    this.wholeSteps++;
    const { sid } = job.session;
    const t0 = performance.now();
    this.guard(pw, pw.call<Uint8Array[]>({ type: "eval", sid, inputs: job.inputs })).then((out) => {
      const ms = performance.now() - t0;
      this.wholeStepMs += ms;
      if (lone) WorkerPoolEvaluator.remember(this.lone.whole, ms);
      job.resolve(out);
    }, (e: Error) => this.fail(job, e)).finally(() => { pw.busy = false; this.dispatch(); });
  }

  /** A step that failed; one whose worker died ends its session (see `lose`). */
  private fail(job: Job, e: Error): void {
    if (e instanceof errors.WorkerLostError) this.lose(job.session);
    job.reject(e);
  }

  /**
   * Both workers get the input; `lead` and `help` exchange intermediate ciphertexts over a channel of their own
   * (synchronously, inside their WASM loops) and each returns its share of the output blocks, concatenated here in
   * block order. Same keys, same bytes on the wire, and the outputs are the unsplit step's, byte for byte.
   */
  private runSplit(job: Job, lead: PoolWorker, help: PoolWorker): void {
    lead.busy = true;
    help.busy = true;
    this.splitSteps++;
    const { sid } = job.session;
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(SPLIT_SIGNAL_BYTES);
    const a = this.guard(lead, lead.call<Uint8Array[]>({ type: "split", role: "lead", sid, inputs: job.inputs, port: port1, signal },
      [port1 as unknown as MessagePort]));
    const b = this.guard(help, help.call<Uint8Array[]>({ type: "split", role: "help", sid, inputs: job.inputs, port: port2, signal },
      [port2 as unknown as MessagePort]));
    // A part that fails wakes its partner out of any wait (else it would sit until the channel's timeout).
    const abort = () => abortSplit(signal);
    a.catch(abort);
    b.catch(abort);
    const t0 = performance.now();
    Promise.all([a, b]).then(([x, y]) => {
      const ms = performance.now() - t0;
      this.splitStepMs += ms;
      WorkerPoolEvaluator.remember(this.lone.split, ms);
      job.resolve([...x, ...y]);
    }, (e: Error) => this.fail(job, e));
    // Each worker frees up when its own part ends (a failed partner wakes the other through the abort flag).
    for (const [pw, p] of [[lead, a], [help, b]] as const) {
      void p.catch(() => undefined).finally(() => { pw.busy = false; this.dispatch(); });
    }
  }

  /** A session whose step died with a worker is over: its input may be what killed it. */
  private lose(session: PoolSession): void {
    if (session.closed) return;
    session.closed = true;
    session.lost = true;
    this.openCount -= 1;
    this.forget(session.sid);
  }

  /** Typed errors pass through; anything else means the worker's state is suspect: retire it (it is replaced). */
  private async guard<T>(pw: PoolWorker, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (e) {
      if (e instanceof errors.FheError) throw e;
      void pw.worker.terminate();
      throw new errors.WorkerLostError(`FHE worker retired after an unexpected error: ${(e as Error).message}`);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const job of this.queue.splice(0)) job.reject(new errors.ClosedError("evaluator"));
    await Promise.all(this.workers.map(async (pw) => {
      await pw.call({ type: "dispose" }).catch(() => undefined);
      await pw.worker.terminate();
    }));
    await this.settled(); // a replacement still starting terminates itself once ready
  }
}
