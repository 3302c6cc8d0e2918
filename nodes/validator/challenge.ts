import * as ort from "onnxruntime-node";
import { CerberusError } from "../core/errors.ts";
import type { BrainModel } from "../client/brain-model.ts";
import { FailoverSession } from "../client/failover.ts";
import type { InferClient, MinerAddress } from "../client/transport.ts";
import { FheClient } from "../fhe/index.ts";
import { loadBrownSplits } from "../model/corpus.ts";
import { argmax } from "../model/lm.ts";
import type { ChallengeOutcome } from "./scoring.ts";

/** The plaintext reference: the Brain's ONNX model run by onnxruntime-node on the same input. */
export class PlaintextReference {
  private constructor(private readonly session: ort.InferenceSession, private readonly inputDim: number) {}

  static async create(model: BrainModel): Promise<PlaintextReference> {
    const session = await ort.InferenceSession.create(model.onnxBytes, { intraOpNumThreads: 1 });
    return new PlaintextReference(session, model.descriptor.inputDim);
  }

  async logits(x: Float32Array): Promise<Float32Array> {
    if (x.length !== this.inputDim) throw new CerberusError("BAD_INPUT", `reference input has ${x.length} values, expected ${this.inputDim}`);
    const feeds = { [this.session.inputNames[0]!]: new ort.Tensor("float32", x, [1, x.length]) };
    const out = await this.session.run(feeds);
    return out[this.session.outputNames[0]!]!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Held-out contexts (words of the validation split: never trained on) to challenge miners with, as ids of the
 * Brain's own vocabulary (unknown words → the unknown symbol). Each challenge is the miner input of one context —
 * the same kind of vector a user's generate step sends.
 */
export function sampleContexts(words: readonly string[], vocab: { idOf(word: string): number }, n: number, count: number,
  random: () => number = Math.random): number[][] {
  if (words.length < n - 1) throw new CerberusError("BAD_INPUT", "held-out text shorter than one context");
  return Array.from({ length: count }, () => {
    const start = Math.floor(random() * (words.length - (n - 1) + 1));
    return words.slice(start, start + n - 1).map((w) => vocab.idOf(w));
  });
}

export interface ChallengeRunOptions {
  model: BrainModel;
  reference: PlaintextReference;
  infer: InferClient;
  miner: MinerAddress;
  /** Context id sequences (n−1 ids each). */
  contexts: readonly number[][];
  stepTimeoutMs?: number;
}

/**
 * Challenges one miner through EXACTLY the user's code path: fresh session keys from a new FheClient, a session
 * opened by the same InferClient/FailoverSession a user's generate loop uses (with a one-miner list, so no
 * failover), the same step messages. The miner cannot tell these requests from a user's.
 */
export async function challengeMiner(options: ChallengeRunOptions): Promise<ChallengeOutcome[]> {
  const { model, reference, infer, miner } = options;
  const fhe = await FheClient.create(model.descriptor);
  const session = new FailoverSession(infer, [miner], fhe.keygen());
  const outcomes: ChallengeOutcome[] = [];
  try {
    for (const context of options.contexts) {
      const x = model.client.contextInput(context);
      const expected = await reference.logits(x);
      const started = performance.now();
      try {
        const result = await session.step(fhe.encryptInput(x),
          options.stepTimeoutMs !== undefined ? { timeoutMs: options.stepTimeoutMs } : {});
        const got = fhe.decryptOutput(result.outputs);
        const ms = performance.now() - started;
        outcomes.push(compare(got, expected, model.client.vocab.size, ms));
      } catch (err) {
        // A miner that errors, times out or sends undecryptable bytes has not answered this challenge.
        outcomes.push({ answered: false, top1Match: false, maxRelError: Infinity, ms: performance.now() - started });
        if (!(err instanceof CerberusError)) throw err;
        if (err.code === "ALL_MINERS_FAILED") {
          // The session is gone (the miner dropped us): the remaining challenges are unanswered too.
          for (let k = outcomes.length; k < options.contexts.length; k++) {
            outcomes.push({ answered: false, top1Match: false, maxRelError: Infinity, ms: 0 });
          }
          break;
        }
      }
    }
  } finally {
    await session.close();
    fhe.dispose();
  }
  return outcomes;
}

export function compare(got: Float32Array, expected: Float32Array, vocab: number, ms: number): ChallengeOutcome {
  let lo = Infinity;
  let hi = -Infinity;
  let maxErr = 0;
  for (let i = 0; i < vocab; i++) {
    lo = Math.min(lo, expected[i]!);
    hi = Math.max(hi, expected[i]!);
    maxErr = Math.max(maxErr, Math.abs(got[i]! - expected[i]!));
  }
  const range = Math.max(hi - lo, 1e-12);
  const maxRelError = Number.isFinite(maxErr) ? maxErr / range : Infinity;
  return { answered: true, top1Match: argmax(got, vocab) === argmax(expected, vocab), maxRelError, ms };
}

/** The Brown validation split as words (the held-out text validators draw challenges from). */
export function validationWords(): string[] {
  const { vocab, valid } = loadBrownSplits();
  return Array.from(valid, (id) => vocab.words[id] ?? vocab.words[vocab.unkId]!);
}
