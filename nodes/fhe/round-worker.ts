import { Worker } from "node:worker_threads";
import { ClosedError, WorkerLostError } from "./errors.ts";
import type { SessionKeys } from "./evaluator.ts";
import type { RoundPlanDescriptor, RoundPlanOptions } from "./round-plan.ts";
import { rebuildError } from "./worker-pool.ts";

type Reply = { id: number; ok: boolean; value?: unknown; error?: { name: string; code?: string; message: string } };

class RoundWorker {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly sids = new Set<number>();
  dead = false;
  constructor(readonly worker: Worker) {
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
      for (const p of this.pending.values()) p.reject(new WorkerLostError(why));
      this.pending.clear();
    };
    worker.on("error", (err) => die(`FHE worker failed: ${err.message}`));
    worker.on("exit", (code) => die(`FHE worker exited (code ${code})`));
  }
  call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(new WorkerLostError("FHE worker is gone"));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/**
 * A RoundEvaluator in worker threads, so a miner's event loop (libp2p, health, other sessions) stays free while a
 * round runs for hundreds of milliseconds. A session lives on one worker — its encrypted key/value cache and the
 * registers between rounds are there — and that worker's queue orders its rounds; `parallelism` = workers. A worker
 * that dies takes its sessions with it (FHE_WORKER_LOST: the client opens a new session, which prefills).
 */
export class RoundWorkerEvaluator {
  private nextSid = 1;
  private closed = false;
  private constructor(private readonly workers: RoundWorker[], readonly descriptor: RoundPlanDescriptor,
    readonly memory: { plaintexts: number; plaintextBytes: number }) {}

  get planId(): string { return this.descriptor.planId; }
  get parallelism(): number { return this.workers.length; }

  static async create(modelBytes: Uint8Array, plan: Partial<RoundPlanOptions>, options: { threads?: number } = {}): Promise<RoundWorkerEvaluator> {
    const threads = Math.max(1, options.threads ?? 1);
    const boot = new URL("./worker-boot.mjs", import.meta.url);
    const entry = new URL("./round-worker-entry.ts", import.meta.url).href;
    const started = await Promise.all(Array.from({ length: threads }, () => new Promise<{ w: Worker; descriptor: RoundPlanDescriptor; memory: { plaintexts: number; plaintextBytes: number } }>((resolve, reject) => {
      const w = new Worker(boot, { workerData: { entry, modelBytes, plan } });
      const onMsg = (m: { type?: string; descriptor?: RoundPlanDescriptor; memory?: { plaintexts: number; plaintextBytes: number }; error?: Reply["error"] }) => {
        if (m.type === "ready") { w.off("message", onMsg); resolve({ w, descriptor: m.descriptor!, memory: m.memory! }); }
        if (m.type === "init-error") { w.off("message", onMsg); void w.terminate(); reject(rebuildError(m.error!)); }
      };
      w.on("message", onMsg);
      w.once("error", reject);
    })));
    return new RoundWorkerEvaluator(started.map((s) => new RoundWorker(s.w)), started[0]!.descriptor, started[0]!.memory);
  }

  async openSession(keys: SessionKeys) {
    if (this.closed) throw new ClosedError("evaluator");
    const live = this.workers.filter((w) => !w.dead);
    if (live.length === 0) throw new WorkerLostError("no FHE worker left");
    const worker = live.reduce((a, b) => (b.sids.size < a.sids.size ? b : a));
    const sid = this.nextSid++;
    await worker.call({ type: "open", sid, keys });
    worker.sids.add(sid);
    let open = true;
    let stateBytes = 0;
    return {
      evaluate: async (inputs: Uint8Array[], options?: { round?: number }): Promise<Uint8Array[]> => {
        if (!open) throw new ClosedError("session");
        const r = await worker.call<{ out: Uint8Array[]; stateBytes: number }>({ type: "round", sid, round: options?.round ?? 0, inputs });
        stateBytes = r.stateBytes;
        return r.out;
      },
      get stateBytes() { return stateBytes; },
      close: () => {
        if (!open) return;
        open = false;
        worker.sids.delete(sid);
        void worker.call({ type: "close", sid }).catch(() => {});
      },
    };
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map(async (w) => {
      await w.call({ type: "dispose" }).catch(() => {});
      await w.worker.terminate();
    }));
  }
}
