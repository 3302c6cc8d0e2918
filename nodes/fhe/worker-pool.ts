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
  constructor(readonly worker: Worker) {
    worker.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(rebuildError(m.error!));
    });
    worker.on("error", (err) => { for (const p of this.pending.values()) p.reject(err); this.pending.clear(); });
  }
  call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export class WorkerPoolEvaluator {
  readonly planId: string;
  readonly descriptor: PlanDescriptor;
  readonly planSummary: PlanSummary;
  /** Per worker (multiply by `threads` for the process). */
  readonly memory: EvaluatorMemory;
  private nextSid = 1;
  private disposed = false;

  private constructor(private readonly workers: PoolWorker[], descriptor: PlanDescriptor, memory: EvaluatorMemory) {
    this.descriptor = descriptor;
    this.planId = descriptor.planId;
    this.planSummary = planSummary(descriptor);
    this.memory = memory;
  }

  static async create(modelBytes: Uint8Array, plan: PlanOptions = {}, pool: WorkerPoolOptions = {}): Promise<WorkerPoolEvaluator> {
    const threads = Math.max(1, Math.floor(pool.threads ?? 1));
    const boot = new URL("./worker-boot.mjs", import.meta.url);
    const entry = new URL("./worker-entry.ts", import.meta.url).href;
    const started = Array.from({ length: threads }, () => {
      const w = new Worker(boot, { workerData: { entry, modelBytes, plan } });
      return new Promise<{ w: Worker; descriptor: PlanDescriptor; memory: EvaluatorMemory }>((resolve, reject) => {
        const onMsg = (m: { type?: string; descriptor?: PlanDescriptor; memory?: EvaluatorMemory; error?: Reply["error"] }) => {
          if (m.type === "ready") { w.off("message", onMsg); resolve({ w, descriptor: m.descriptor!, memory: m.memory! }); }
          if (m.type === "init-error") { w.off("message", onMsg); void w.terminate(); reject(rebuildError(m.error!)); }
        };
        w.on("message", onMsg);
        w.once("error", reject);
      });
    });
    const results = await Promise.allSettled(started);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      for (const r of results) if (r.status === "fulfilled") await r.value.w.terminate();
      throw (failed as PromiseRejectedResult).reason;
    }
    const ok = results.map((r) => (r as PromiseFulfilledResult<{ w: Worker; descriptor: PlanDescriptor; memory: EvaluatorMemory }>).value);
    return new WorkerPoolEvaluator(ok.map((r) => new PoolWorker(r.w)), ok[0].descriptor, ok[0].memory);
  }

  /** Pins the session to the worker with the fewest sessions; keys are validated there (typed errors come back). */
  async openSession(keys: SessionKeys): Promise<EvalSession> {
    if (this.disposed) throw new errors.ClosedError("evaluator");
    const pw = this.workers.reduce((a, b) => (b.sessions < a.sessions ? b : a));
    const sid = this.nextSid++;
    await pw.call({ type: "open", sid, keys: { planId: keys.planId, galoisKeys: keys.galoisKeys, relinKeys: keys.relinKeys } });
    pw.sessions++;
    let closed = false;
    return {
      get closed() { return closed; },
      async evaluate(inputs: Uint8Array[]): Promise<Uint8Array[]> {
        if (closed) throw new errors.ClosedError("session");
        return pw.call<Uint8Array[]>({ type: "eval", sid, inputs });
      },
      close(): void {
        if (closed) return;
        closed = true;
        pw.sessions--;
        void pw.call({ type: "close", sid }).catch(() => undefined);
      },
    };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.workers.map(async (pw) => {
      await pw.call({ type: "dispose" }).catch(() => undefined);
      await pw.worker.terminate();
    }));
  }
}
