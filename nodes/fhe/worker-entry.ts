// Runs one MinerEvaluator inside a worker thread (see worker-pool.ts). Messages are plain objects; byte arrays are
// transferred, not copied, on the way back.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { ClosedError } from "./errors.ts";
import { MinerEvaluator, type EvalSession } from "./evaluator.ts";
import type { PlanOptions } from "./plan.ts";
import { splitChannel, type SplitRole } from "./split-channel.ts";

type Request =
  | { type: "open"; id: number; sid: number; keys: { planId: string; galoisKeys: Uint8Array; relinKeys: Uint8Array } }
  | { type: "eval"; id: number; sid: number; inputs: Uint8Array[] }
  | { type: "split"; id: number; sid: number; role: SplitRole; inputs: Uint8Array[]; port: MessagePort; signal: SharedArrayBuffer }
  | { type: "close"; id: number; sid: number }
  | { type: "dispose"; id: number };

const port = parentPort!;
const data = workerData as { modelBytes: Uint8Array; plan: PlanOptions };
const errorOf = (e: unknown) => ({
  name: e instanceof Error ? e.name : "Error",
  code: (e as { code?: unknown })?.code,
  message: e instanceof Error ? e.message : String(e),
});

try {
  const ev = await MinerEvaluator.create(data.modelBytes, data.plan);
  const sessions = new Map<number, EvalSession>();
  const session = (sid: number): EvalSession => {
    const s = sessions.get(sid);
    if (!s) throw new ClosedError("session");
    return s;
  };
  const result = (id: number, out: Uint8Array[]) => port.postMessage({ id, ok: true, value: out }, out.map((b) => b.buffer as ArrayBuffer));
  port.on("message", async (m: Request) => {
    try {
      if (m.type === "open") {
        sessions.set(m.sid, await ev.openSession(m.keys));
        port.postMessage({ id: m.id, ok: true });
      } else if (m.type === "eval") {
        result(m.id, await session(m.sid).evaluate(m.inputs));
      } else if (m.type === "split") {
        try {
          const s = session(m.sid);
          if (!s.evaluateSplit) throw new ClosedError("session");
          result(m.id, s.evaluateSplit(m.role, m.inputs, splitChannel(m.port, m.signal, m.role)));
        } finally {
          m.port.close();
        }
      } else if (m.type === "close") {
        sessions.get(m.sid)?.close();
        sessions.delete(m.sid);
        port.postMessage({ id: m.id, ok: true });
      } else if (m.type === "dispose") {
        ev.dispose();
        port.postMessage({ id: m.id, ok: true });
      }
    } catch (e) {
      port.postMessage({ id: m.id, ok: false, error: errorOf(e) });
    }
  });
  port.postMessage({ type: "ready", descriptor: ev.descriptor, memory: ev.memory, splittable: ev.splittable });
} catch (e) {
  port.postMessage({ type: "init-error", error: errorOf(e) });
}
