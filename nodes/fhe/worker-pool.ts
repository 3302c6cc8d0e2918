import { Worker } from "node:worker_threads";
import * as errors from "./errors.ts";
import type { EvalSession, EvaluatorMemory, SessionKeys } from "./evaluator.ts";
import { planSummary, type PlanDescriptor, type PlanOptions, type PlanSummary } from "./plan.ts";

/**
 * Optional parallelism: the same miner surface as MinerEvaluator, but each evaluation runs in one of `threads`
 * worker threads (node-seal is single-threaded WASM; two cores → at most two evaluations at once). Every worker
 * holds its own copy of the encoded weights (≈ 96 MiB for the Brown LM) and the keys of the sessions pinned to it.
 * The main thread's event loop stays free while ciphertexts are computed.
 */
export interface WorkerPoolOptions { readonly threads?: number }

type Reply = { id: number; ok: boolean; value?: unknown; error?: { name: string; code?: string; message: string } };

function rebuildError(e: { name: string; code?: string; message: string }): Error {
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
  sessions = 0;
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
  call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(new errors.WorkerLostError("FHE worker is gone"));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

interface Started { w: Worker; descriptor: PlanDescriptor; memory: EvaluatorMemory }

/** One worker compiled and ready (or the typed error its initialisation ended in). */
function spawn(modelBytes: Uint8Array, plan: PlanOptions): Promise<Started> {
  const boot = new URL("./worker-boot.mjs", import.meta.url);
  const entry = new URL("./worker-entry.ts", import.meta.url).href;
  const w = new Worker(boot, { workerData: { entry, modelBytes, plan } });
  return new Promise<Started>((resolve, reject) => {
    const onMsg = (m: { type?: string; descriptor?: PlanDescriptor; memory?: EvaluatorMemory; error?: Reply["error"] }) => {
      if (m.type === "ready") { w.off("message", onMsg); resolve({ w, descriptor: m.descriptor!, memory: m.memory! }); }
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
}

/**
 * A worker that dies (a WASM abort, an exit) or fails with an untyped error (its heap may be corrupt) is retired
 * and replaced, so no request can take the pool down one worker at a time; the sessions pinned to it end with
 * WorkerLostError and their clients open new ones (the keys lived in that worker).
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
  private readonly workers: PoolWorker[] = [];
  private readonly respawning = new Set<Promise<void>>();

  private constructor(started: Started[], private readonly modelBytes: Uint8Array, private readonly plan: PlanOptions) {
    this.descriptor = started[0].descriptor;
    this.planId = this.descriptor.planId;
    this.planSummary = planSummary(this.descriptor);
    this.memory = started[0].memory;
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
    return new WorkerPoolEvaluator(results.map((r) => (r as PromiseFulfilledResult<Started>).value), modelBytes, plan);
  }

  private adopt(w: Worker): PoolWorker {
    return new PoolWorker(w, (dead) => this.replace(dead));
  }

  private replace(dead: PoolWorker): void {
    if (this.disposed) return;
    const job = spawn(this.modelBytes, this.plan).then((s) => {
      if (this.disposed) { void s.w.terminate(); return; }
      this.workers[this.workers.indexOf(dead)] = this.adopt(s.w);
      this.replaced++;
    }, () => undefined /* the same model compiled before; a failure here leaves the slot dead (stats().live shows it) */);
    this.respawning.add(job);
    void job.finally(() => this.respawning.delete(job));
  }

  stats(): PoolStats {
    return { threads: this.workers.length, live: this.workers.filter((w) => !w.dead).length, replaced: this.replaced };
  }

  /** Resolves once no replacement is being started. */
  async settled(): Promise<void> {
    while (this.respawning.size > 0) await Promise.all([...this.respawning]);
  }

  /** Pins the session to the live worker with the fewest sessions; keys are validated there (typed errors come back). */
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    if (this.disposed) throw new errors.ClosedError("evaluator");
    let live = this.workers.filter((w) => !w.dead);
    if (live.length === 0) { await this.settled(); live = this.workers.filter((w) => !w.dead); }
    if (live.length === 0) throw new errors.WorkerLostError("no FHE worker is running");
    const pw = live.reduce((a, b) => (b.sessions < a.sessions ? b : a));
    const sid = this.nextSid++;
    pw.sessions++; // counted before the await, so concurrent opens spread over the workers
    try {
      await this.guard(pw, pw.call({ type: "open", sid, keys: { planId: keys.planId, galoisKeys: keys.galoisKeys, relinKeys: keys.relinKeys } }));
    } catch (e) {
      pw.sessions--;
      throw e;
    }
    let closed = false;
    const guard = this.guard.bind(this);
    return {
      get closed() { return closed || pw.dead; },
      async evaluate(inputs: Uint8Array[]): Promise<Uint8Array[]> {
        if (closed) throw new errors.ClosedError("session");
        return guard(pw, pw.call<Uint8Array[]>({ type: "eval", sid, inputs }));
      },
      close(): void {
        if (closed) return;
        closed = true;
        pw.sessions--;
        void pw.call({ type: "close", sid }).catch(() => undefined);
      },
    };
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
    await Promise.all(this.workers.map(async (pw) => {
      await pw.call({ type: "dispose" }).catch(() => undefined);
      await pw.worker.terminate();
    }));
    await this.settled(); // a replacement still starting terminates itself once ready
  }
}
