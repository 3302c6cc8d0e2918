// Runs one RoundEvaluator inside a worker thread (see round-worker.ts). Sessions keep their cache here between
// rounds; byte arrays are transferred back, not copied.
import { parentPort, workerData } from "node:worker_threads";
import { ClosedError } from "./errors.ts";
import { RoundEvaluator, type RoundSession } from "./round-evaluator.ts";
import type { RoundPlanOptions } from "./round-plan.ts";

type Request =
  | { type: "open"; id: number; sid: number; keys: { planId: string; galoisKeys: Uint8Array; relinKeys: Uint8Array } }
  | { type: "round"; id: number; sid: number; round: number; inputs: Uint8Array[] }
  | { type: "close"; id: number; sid: number }
  | { type: "dispose"; id: number };

const port = parentPort!;
const data = workerData as { modelBytes: Uint8Array; plan: Partial<RoundPlanOptions> };
const errorOf = (e: unknown) => ({
  name: e instanceof Error ? e.name : "Error",
  code: (e as { code?: unknown })?.code,
  message: e instanceof Error ? e.message : String(e),
});

try {
  const ev = await RoundEvaluator.create(data.modelBytes, data.plan);
  const sessions = new Map<number, RoundSession>();
  port.on("message", async (m: Request) => {
    try {
      if (m.type === "open") {
        sessions.set(m.sid, await ev.openSession(m.keys));
        port.postMessage({ id: m.id, ok: true });
      } else if (m.type === "round") {
        const s = sessions.get(m.sid);
        if (!s) throw new ClosedError("session");
        const out = await s.evaluateRound(m.round, m.inputs);
        port.postMessage({ id: m.id, ok: true, value: { out, stateBytes: s.stateBytes } }, out.map((b) => b.buffer as ArrayBuffer));
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
  port.postMessage({ type: "ready", descriptor: ev.descriptor, memory: ev.memory });
} catch (e) {
  port.postMessage({ type: "init-error", error: errorOf(e) });
}
