import { ShapeError } from "../fhe/errors.ts";
import type { RoundClient } from "../fhe/round-client.ts";
import type { TransformerClient } from "../model/transformer-client.ts";

/**
 * Sends one round's uploads and returns the miner's ciphertexts (a network session, or an evaluator in tests).
 * `build(fresh)` makes the uploads; fresh = the session they go to does not hold this client's cache (a new session,
 * or a failover at round 0): the first round then carries the prefill.
 */
export type RoundTransport = (round: number, build: (fresh: boolean) => Uint8Array[]) => Promise<Uint8Array[]>;

export interface RoundRecord {
  round: number;
  bytesUp: number;
  bytesDown: number;
  /** What the client decrypted (scores, a refreshed vector, logits). */
  decrypted: Float32Array[];
  /** What it sent besides ciphertexts' bytes, in plaintext (the client's own values; a validator checks with them). */
  sent: Float64Array | null;
  ms: number;
}

export interface TxStepResult {
  logits: Float32Array;
  /** Raw scores of the window's rows (the first round's result). */
  scores: Float32Array;
  /** The window this step used: positions ws … k of the history. */
  ws: number;
  k: number;
  prefill: boolean;
  rounds: RoundRecord[];
}

/**
 * One generated word of a transformer Brain, on the client: the rounds of the plan in order. Round 0 uploads the
 * newest row (and, on a session's first step or when the window restarts, the prefill of the window's earlier rows);
 * after a round that returns scores the client applies the softmax with its position bias exactly and uploads the
 * weights; after a refresh output it decrypts, applies the plan's square if the plan hands it over, re-encrypts. The
 * last round returns the logits. The stepper remembers which window the miner's cache holds.
 */
export class TxStepper {
  /** Window start the miner's cache holds (−1: none yet, e.g. a new session). */
  cacheStart = -1;

  constructor(readonly model: TransformerClient, readonly fhe: RoundClient) {
    if (fhe.descriptor.width !== model.width || fhe.descriptor.window !== model.window) {
      throw new ShapeError(`plan rows ${fhe.descriptor.width} × ${fhe.descriptor.window} ≠ model ${model.width} × ${model.window}`);
    }
  }

  /** Forget the miner's cache (a new session: the next step sends the prefill). */
  reset(): void { this.cacheStart = -1; }

  async step(history: readonly number[], transport: RoundTransport): Promise<TxStepResult> {
    const m = this.model, fhe = this.fhe, d = fhe.descriptor;
    const k = history.length - 1;
    if (k < 0) throw new ShapeError("an empty history has no next word");
    const ws = m.windowStart(k);
    let prefill = false;
    const rounds: RoundRecord[] = [];
    let scores: Float32Array | undefined;
    let prev: Float32Array[] = [];
    for (let r = 0; r < d.rounds.length; r++) {
      const t0 = performance.now();
      let inputs: Uint8Array[] = [];
      let sent: Float64Array | null = null;
      const build = (fresh: boolean): Uint8Array[] => {
        inputs = [];
        if (r === 0) {
          if (fresh) this.cacheStart = -1;
          prefill = this.cacheStart !== ws;
          if (prefill) {
            const rows: Float32Array[] = [];
            for (let j = ws; j < k; j++) rows.push(m.row(history, j));
            inputs.push(fhe.encryptPrefill(rows));
          }
          inputs.push(fhe.encryptQuery(m.row(history, k), k - ws));
          return inputs;
        }
        for (const input of d.rounds[r]!.inputs) {
          if (input.kind === "softmax") {
            if (scores === undefined) throw new ShapeError("weights before scores");
            sent = m.attention(scores, k, ws);
            inputs.push(fhe.encryptWeights(r, sent));
          } else if (input.kind === "refresh") {
            const v = prev[0]!;
            sent = Float64Array.from(v);
            inputs.push(fhe.encryptRefresh(r, v));
          } else throw new ShapeError(`round ${r} wants a ${input.kind} input`);
        }
        return inputs;
      };
      const outs = await transport(r, build);
      const rows = k - ws + 1;
      prev = fhe.decryptOutputs(r, outs, rows);
      if (r === 0) scores = prev[0];
      rounds.push({ round: r, bytesUp: inputs.reduce((a, b) => a + b.length, 0), bytesDown: outs.reduce((a, b) => a + b.length, 0),
        decrypted: prev, sent, ms: performance.now() - t0 });
    }
    this.cacheStart = ws;
    return { logits: prev[prev.length - 1]!, scores: scores!, ws, k, prefill, rounds };
  }
}
