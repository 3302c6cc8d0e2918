import { CerberusError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { MinerEvaluator, SessionPeer } from "../net/evaluator.ts";
import { EvalFailedError, ProtocolError, UnknownSessionError } from "../net/errors.ts";
import { deadline } from "../net/deadline.ts";
import { PROTOCOL_VERSION, type InferRequestHeader, type WireLimits } from "../net/messages.ts";
import type { Admission, Remote } from "./admission.ts";
import { asWireError, BAD_INPUT_CODES, type Reply } from "./replies.ts";
import type { SessionRecord, SessionTable } from "./sessions.ts";

export interface SessionRequestsOptions {
  evaluator: MinerEvaluator;
  sessions: SessionTable;
  admission: Admission;
  limits: WireLimits;
  hotkey: string;
  idleTtlMs: number;
  evaluationTimeoutMs: number;
  /** True once the service is stopping: keys loaded meanwhile are dropped, not kept. */
  stopping: () => boolean;
  log: Logger;
}

/**
 * Carries out an admitted infer request on the session table: `open` loads the keys (evaluation FIFO), `step`
 * evaluates under a time limit and checks the outputs against the result caps, `close` drops the session.
 */
export class SessionRequests {
  constructor(private readonly o: SessionRequestsOptions) {}

  async handle(remote: Remote, h: InferRequestHeader, parts: Uint8Array[]): Promise<Reply> {
    const { peerId, address } = remote;
    const { sessions, admission, log } = this.o;
    const v = PROTOCOL_VERSION;
    switch (h.type) {
      case "open": {
        const [galoisKeys, relinKeys] = parts as [Uint8Array, Uint8Array];
        const peer: SessionPeer = { peerId, remoteAddr: remote.remoteAddr };
        let evalSession;
        try {
          evalSession = await admission.runOpen(() =>
            this.o.evaluator.openSession({ planId: h.planId, galoisKeys, relinKeys }, peer));
        } catch (err) {
          throw asWireError(err, "BAD_KEYS", "session keys rejected");
        }
        if (this.o.stopping()) {
          evalSession.close();
          throw new ProtocolError("SHUTTING_DOWN", "miner is stopping");
        }
        const rec = admission.placeSession(remote, evalSession,
          (victim) => log.debug({ evicted: victim.id, from: victim.address, for: address }, "session evicted"));
        rec.usage.keyBytes = bytesOf(parts);
        log.debug({ peerId, address, sessionId: rec.id }, "session opened");
        return { header: { v, type: "opened", sessionId: rec.id, planId: this.o.evaluator.planId,
          idleTtlMs: this.o.idleTtlMs, hotkey: this.o.hotkey }, parts: [] };
      }
      case "step": {
        const rec = sessions.get(h.sessionId, peerId);
        if (rec === undefined) throw new UnknownSessionError("session expired while the step was arriving");
        const round = h.round ?? 0;
        const outputs = await admission.runStep(() => this.evaluate(rec, parts, round));
        return { header: { v, type: "result", sessionId: rec.id, seq: h.seq, ...(h.round !== undefined ? { round: h.round } : {}) }, parts: outputs };
      }
      case "close": {
        const rec = sessions.get(h.sessionId, peerId);
        if (rec === undefined) throw new UnknownSessionError("no such session");
        sessions.remove(rec, "closed");
        return { header: { v, type: "closed", sessionId: h.sessionId }, parts: [] };
      }
    }
  }

  private async evaluate(rec: SessionRecord, inputs: Uint8Array[], round: number): Promise<Uint8Array[]> {
    const { sessions, limits } = this.o;
    const started = performance.now();
    sessions.begin(rec);
    const work = (async () => rec.eval.evaluate(inputs, round === 0 ? undefined : { round }))();
    // end() runs when the evaluator really finishes, even if we stopped waiting for it
    work.then(() => sessions.end(rec), () => sessions.end(rec));
    const limit = deadline(this.o.evaluationTimeoutMs);
    try {
      const outputs = await Promise.race([work, new Promise<never>((_, reject) => {
        limit.signal.addEventListener("abort", () => reject(new EvalFailedError("evaluation timed out")), { once: true });
      })]);
      const total = outputs.reduce((s, o) => s + o.byteLength, 0);
      if (outputs.length < 1 || outputs.length > limits.maxResultParts || total > limits.maxResultBytes ||
          outputs.some((o) => o.byteLength === 0)) {
        // Our own evaluator broke the contract; the client must not receive something it will refuse.
        throw new EvalFailedError(`evaluator produced ${outputs.length} outputs / ${total} bytes, outside the result caps`);
      }
      const u = rec.usage;
      if (round === 0) u.steps += 1;
      u.evalMs += performance.now() - started;
      u.bytesIn += bytesOf(inputs);
      u.bytesOut += total;
      return outputs;
    } catch (err) {
      if (err instanceof CerberusError && err.code === "FHE_WORKER_LOST") {
        // The keys died with the FHE worker (it is being replaced): the client re-opens, on this miner if it likes.
        sessions.remove(rec, "worker-lost");
        throw new UnknownSessionError(`session lost with its FHE worker; open a new one (${err.message})`);
      }
      if (err instanceof CerberusError && BAD_INPUT_CODES.has(err.code)) {
        throw new ProtocolError("BAD_CIPHERTEXT", `input refused [${err.code}]: ${err.message}`.slice(0, 512));
      }
      throw asWireError(err, "EVAL_FAILED", "evaluation failed");
    } finally {
      limit.clear();
    }
  }
}

function bytesOf(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, p) => sum + p.byteLength, 0);
}
