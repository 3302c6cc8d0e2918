// The transformer on real ciphertexts, in one process (client + RoundEvaluator, no network): per-word latency, bytes,
// keys and the perplexity of the words it predicts — shared by bench:fhe-tx (the plan table) and bench:model (the
// "encrypted" squeeze step).
import { softmax } from "../../nodes/model/client-model.ts";
import type { TransformerClient } from "../../nodes/model/transformer-client.ts";
import { TxOnnxLm } from "../../nodes/model/tx-onnx.ts";
import { TxStepper } from "../../nodes/client/tx-rounds.ts";
import { RoundClient } from "../../nodes/fhe/round-client.ts";
import { RoundEvaluator } from "../../nodes/fhe/round-evaluator.ts";
import type { RoundPlanOptions } from "../../nodes/fhe/round-plan.ts";
import { PerplexityAccumulator } from "../../nodes/model/perplexity.ts";

export interface EncryptedRun {
  plan: RoundPlanOptions & { rounds: number; levels: number; params: string; ring: number; galoisSteps: number };
  words: number;
  keygenMs: number;
  keyBytes: number;
  /** Per word: client encrypt + miner rounds + client decrypt, in one process (no network). */
  wordMs: number[];
  /**
   * The same, in CPU time of this process (one thread: what the word costs on an idle core, whatever else the
   * machine runs; the reference's onnxruntime runs outside the measured span).
   */
  wordCpuMs: number[];
  /** Words whose window held ≥ 16 rows (the cache in use at a long context), and their times. */
  longContextMs: number[];
  roundMs: number[][];
  bytesUp: number[];
  bytesDown: number[];
  /** Words that carried a prefill (session start, window restart). */
  prefills: number;
  maxScoreError: number;
  maxLogitError: number;
  /** ln P of each predicted word: encrypted, and the plaintext ONNX on the same histories. */
  logp: number[];
  logpPlain: number[];
  cacheBytes: number;
}

/**
 * Runs sessions over segments of a split: for each segment (history from `start`), every position in [first, end)
 * is predicted from the history before it through the plan's rounds; one session per segment (its first word
 * prefills, the window restarts as a client's would).
 */
export async function runEncrypted(onnxBytes: Uint8Array, client: TransformerClient, options: Partial<RoundPlanOptions>, ids: Int32Array,
  segments: readonly { start: number; first: number; end: number }[], maxWords: number, onWord?: (done: number) => void): Promise<EncryptedRun> {
  const ev = await RoundEvaluator.create(onnxBytes, options);
  const fhe = await RoundClient.create(ev.plan);
  const ref = await TxOnnxLm.create(onnxBytes, client);
  const d = ev.descriptor;
  const run: EncryptedRun = {
    plan: { ...ev.plan.descriptor.options, rounds: d.rounds.length, levels: d.summary.levels, params: d.params, ring: ev.plan.set.polyModulusDegree, galoisSteps: d.galoisSteps.length },
    words: 0, keygenMs: 0, keyBytes: 0, wordMs: [], wordCpuMs: [], longContextMs: [], roundMs: [], bytesUp: [], bytesDown: [], prefills: 0,
    maxScoreError: 0, maxLogitError: 0, logp: [], logpPlain: [], cacheBytes: 0,
  };
  const V = client.vocab.size;
  try {
    const t0 = performance.now();
    const keys = fhe.keygen();
    run.keygenMs = performance.now() - t0;
    run.keyBytes = keys.keyBytes;
    outer: for (const seg of segments) {
      const session = await ev.openSession(keys);
      try {
        const stepper = new TxStepper(client, fhe);
        for (let i = seg.first; i < seg.end; i++) {
          const history = Array.from(ids.subarray(seg.start, i));
          const t = performance.now();
          const cpu = process.cpuUsage();
          const r = await stepper.step(history, (round, build) => session.evaluateRound(round, build(false)));
          const ms = performance.now() - t;
          const used = process.cpuUsage(cpu);
          run.wordCpuMs.push((used.user + used.system) / 1000);
          const want = await ref.run(history);
          for (let j = 0; j <= r.k - r.ws; j++) run.maxScoreError = Math.max(run.maxScoreError, Math.abs(r.scores[j]! - want.scores[j]!));
          for (let w = 0; w < V; w++) run.maxLogitError = Math.max(run.maxLogitError, Math.abs(r.logits[w]! - want.logits[w]!));
          run.logp.push(Math.log(softmax(r.logits, V)[ids[i]!]!));
          run.logpPlain.push(Math.log(softmax(want.logits, V)[ids[i]!]!));
          run.wordMs.push(ms);
          if (r.k - r.ws + 1 >= 16) run.longContextMs.push(ms);
          run.roundMs.push(r.rounds.map((x) => x.ms));
          run.bytesUp.push(r.rounds.reduce((a, x) => a + x.bytesUp, 0));
          run.bytesDown.push(r.rounds.reduce((a, x) => a + x.bytesDown, 0));
          if (r.prefill) run.prefills++;
          run.cacheBytes = Math.max(run.cacheBytes, session.stateBytes);
          run.words++;
          onWord?.(run.words);
          if (run.words >= maxWords) break outer;
        }
      } finally {
        session.close();
      }
    }
  } finally {
    fhe.dispose();
    ev.dispose();
    await ref.release();
  }
  return run;
}

export function pplOfLogs(logs: readonly number[]): number {
  const acc = new PerplexityAccumulator();
  for (const v of logs) acc.add(v);
  return acc.result().ppl;
}
