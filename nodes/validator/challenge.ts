import * as ort from "onnxruntime-node";
import { CerberusError } from "../core/errors.ts";
import type { BrainModel, TxBrainModel } from "../client/brain-model.ts";
import { TxOnnxLm } from "../model/tx-onnx.ts";
import { generate, type GeneratedStep } from "../client/generate.ts";
import { InferClient, type HealthReport, type MinerAddress, type TransportOptions } from "../client/transport.ts";
import type { SessionShape } from "../client/workload.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { Logger } from "../core/log.ts";
import { AllMinersFailedError } from "../net/errors.ts";
import { createCerberusNode } from "../net/node.ts";
import { loadBrownSplits } from "../model/corpus.ts";
import { argmax } from "../model/lm.ts";
import type { LmMixture } from "../model/mixture.ts";
import { unanswered, type ChallengeOutcome } from "./scoring.ts";

/**
 * The plaintext reference: the Brain's ONNX model run by onnxruntime-node on the same input. MLP: the step's input →
 * the logits. Transformer: the word's history → every value a round returns (scores, refreshed vectors, logits; the
 * ONNX outputs them by the names the round plan gives), so every round is checked, not only the last.
 */
export class PlaintextReference {
  private constructor(private readonly session: ort.InferenceSession | undefined, private readonly inputDim: number,
    private readonly tx?: { model: TxBrainModel; lm: TxOnnxLm }) {}

  static async create(model: BrainModel): Promise<PlaintextReference> {
    if (model.kind === "transformer") return new PlaintextReference(undefined, 0, { model, lm: await TxOnnxLm.create(model.onnxBytes, model.client) });
    const session = await ort.InferenceSession.create(model.onnxBytes, { intraOpNumThreads: 1 });
    return new PlaintextReference(session, model.descriptor.inputDim);
  }

  /** A generated word against the reference: every round's decrypted values, top-1 on the logits. */
  async check(step: GeneratedStep, vocab: number, ms: number): Promise<ChallengeOutcome> {
    if (this.tx === undefined) return compare(step.logits, await this.logits(step.input), vocab, ms);
    if (step.history === undefined || step.rounds === undefined) throw new CerberusError("BAD_INPUT", "a transformer step without its history and rounds");
    const ref = await this.tx.lm.run(step.history);
    const rows = ref.k - ref.ws + 1;
    let worst = 0;
    for (const o of this.tx.model.plan.outputs) {
      const got = step.rounds[o.round]?.decrypted[0];
      const want = ref.outputs[o.name];
      if (got === undefined || want === undefined) return { answered: true, top1Match: false, maxRelError: Infinity, ms };
      const n = o.name === this.tx.model.plan.outputs[0]!.name ? rows : o.name === "logits" ? vocab : want.length;
      worst = Math.max(worst, relError(got, want, n));
    }
    const logits = compare(step.logits, ref.logits, vocab, ms);
    return { ...logits, maxRelError: Math.max(worst, logits.maxRelError) };
  }

  async logits(x: Float32Array): Promise<Float32Array> {
    if (this.session === undefined) throw new CerberusError("BAD_INPUT", "a transformer reference takes histories (check)");
    if (x.length !== this.inputDim) throw new CerberusError("BAD_INPUT", `reference input has ${x.length} values, expected ${this.inputDim}`);
    const feeds = { [this.session.inputNames[0]!]: new ort.Tensor("float32", x, [1, x.length]) };
    const out = await this.session.run(feeds);
    return out[this.session.outputNames[0]!]!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session?.release();
    await this.tx?.lm.release();
  }
}

/**
 * A held-out prompt: `words` consecutive words of the validation split (never trained on) from a random position.
 * Its length is invisible to a miner (the client embeds only the last n−1 words of the context).
 */
export function samplePrompt(heldOut: readonly string[], words: number, random: () => number = Math.random): string {
  if (heldOut.length < words || words < 1) throw new CerberusError("BAD_INPUT", "held-out text shorter than one prompt");
  const start = Math.floor(random() * (heldOut.length - words + 1));
  return heldOut.slice(start, start + words).join(" ");
}

export interface ProbeSessionOptions {
  model: BrainModel;
  reference: PlaintextReference;
  miner: MinerAddress;
  /** Held-out prompt (samplePrompt). */
  prompt: string;
  /** Words to generate and pauses before each, drawn from the user workload model (workload.ts). */
  shape: SessionShape;
  transport?: TransportOptions;
  /** The users' client policy (miner choice, BUSY waits); default the users' defaults. */
  client?: ClientPolicy;
  /**
   * Whether a user could have gone to another miner (the Brain has more than one): then an unfit target (health
   * failed, other plan, too long a stated wait) is not opened and scores as no work. With no alternative a user
   * comes anyway, and so does the probe. Default true.
   */
  alternatives?: boolean;
  /** The client mixture users sample from (loadClientMixture), so probes sample as users do. */
  mixture?: LmMixture;
  seed?: number;
  /** Every step as it happens (input, decrypted logits), as `generate` reports it. */
  onStep?: (step: GeneratedStep) => void;
  logger?: Logger;
}

/**
 * One probe: a real generation session, indistinguishable from a user's by construction. It runs `generate` — the
 * users' own autoregressive loop (same sampler, same failover session with a one-miner list, same messages) — from a
 * FRESH libp2p identity created for this session only and registered nowhere, with a length and think times drawn
 * from the user workload model. Every step's input and decrypted logits are recorded and checked against the
 * plaintext ONNX reference only after the session has ended, so checking adds nothing a miner could time.
 * Steps not reached because the miner failed the session count as unanswered.
 */
export async function probeSession(options: ProbeSessionOptions): Promise<ChallengeOutcome[]> {
  const { model, reference, shape } = options;
  const node = await createCerberusNode({ listen: [] });
  const steps: GeneratedStep[] = [];
  let claim: HealthReport | undefined;
  let keyUploadMs: number | undefined;
  try {
    await generate({
      model, infer: new InferClient(node, options.transport), miners: [options.miner], prompt: options.prompt,
      words: shape.words, thinkMs: shape.thinkMs,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.mixture !== undefined ? { mixture: options.mixture } : {}),
      // A user asks health first and goes elsewhere from a miner whose health fails or states a wait it will not
      // accept: the probe asks the same and, where a user would not have come, does not come either — and the
      // miner did no work for it (every step unanswered). BUSY is met exactly as a user meets it (FailoverSession).
      selection: { ...options.client?.selection, unfit: options.alternatives === false ? "last" : "drop" },
      ...(options.client?.busy !== undefined ? { busy: options.client.busy } : {}),
      onSelect: (choice) => {
        const h = choice.health.get(options.miner.peerId);
        if (h !== undefined && !(h instanceof CerberusError)) claim = h;
        const why = choice.unfit.get(options.miner.peerId);
        if (why !== undefined) options.logger?.info({ miner: options.miner.peerId, why }, "probe: a user would not choose this miner");
      },
      onStep: (s) => { steps.push(s); options.onStep?.(s); },
    }).then((r) => { keyUploadMs = r.keyUploadMs; }, (err: unknown) => {
      // A miner that errors, times out, drops the session or sends undecryptable bytes fails the step in flight
      // and every step after it (a user's generation would stop there too).
      if (!(err instanceof CerberusError)) throw err;
      const detail = err instanceof AllMinersFailedError ? err.attempts.map((a) => `${a.code}: ${a.message}`).join("; ") : err.message;
      options.logger?.warn({ miner: options.miner.peerId, step: steps.length, code: err.code, detail: detail.slice(0, 300) },
        "probe session failed");
    });
  } finally {
    await node.stop();
  }
  const ours = steps.filter((s) => s.miner === options.miner.peerId); // another miner's answer is no work of this one
  if (keyUploadMs !== undefined && ours.length === steps.length && brokenClaim(claim, ours, keyUploadMs)) {
    // It told users it was busy (or slow) and was not: they went elsewhere, so this session counts as no work.
    options.logger?.info({ miner: options.miner.peerId, claim: claim?.queue, firstStepMs: Math.round(ours[0]?.ms ?? 0) },
      "probe: the miner stated a queue it did not have");
    return unanswered(shape.words);
  }
  const outcomes: ChallengeOutcome[] = [];
  for (const s of ours) {
    outcomes.push(await reference.check(s, model.client.vocab.size, chargedMs(s, claim)));
  }
  return [...outcomes, ...unanswered(shape.words - outcomes.length)];
}

/** Claims below this are not checked: a short honest queue may well have drained by the time the steps arrive. */
export const CLAIM_CHECK_MIN_MS = 1_000;

/**
 * Whether the probe met a miner's health claim — the claim users choose by. A miner that states a long queue (or
 * slow steps) so that users go elsewhere, while it serves the probes that come anyway, is lying about the one thing
 * that sent users away. The claim is broken when it states a wait W ≥ 1 s but the first step waited less than W/4
 * (its time minus the key upload and the stated step time), or a step time S ≥ 1 s but every later step took less
 * than S/4. An honest queue of ≥ 1 s does not drain by three quarters during one key upload, and an honest step time
 * is what the steps measure, so honest miners keep their sessions (tested under load).
 */
export function brokenClaim(claim: HealthReport | undefined, steps: readonly { index: number; ms: number }[],
  keyUploadMs: number): boolean {
  if (claim === undefined || steps.length === 0) return false;
  const { expectedWaitMs: W, recentStepMs: S } = claim.queue;
  const first = steps.find((s) => s.index === 0);
  if (W >= CLAIM_CHECK_MIN_MS && first !== undefined && first.ms - keyUploadMs - S < W / 4) return true;
  const later = steps.filter((s) => s.index > 0);
  return S >= CLAIM_CHECK_MIN_MS && later.length > 0 && later.every((s) => s.ms < S / 4);
}

/**
 * The latency a step is scored at: what was measured, or what the miner's health claimed if that is worse (the
 * stated wait and step time for the first step, the stated step time after). Claiming a long queue to keep users
 * away therefore costs a miner the latency it claimed; claiming an empty one gains nothing over the measurement.
 */
export function chargedMs(step: { index: number; ms: number }, claim: HealthReport | undefined): number {
  if (claim === undefined) return step.ms;
  const claimed = claim.queue.recentStepMs + (step.index === 0 ? claim.queue.expectedWaitMs : 0);
  return Math.max(step.ms, claimed);
}

/** max |got − want| over the first n values, relative to the range of want (or its magnitude, for one value). */
function relError(got: ArrayLike<number>, want: ArrayLike<number>, n: number): number {
  let lo = Infinity, hi = -Infinity, err = 0, mag = 0;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, want[i]!);
    hi = Math.max(hi, want[i]!);
    mag = Math.max(mag, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return Number.isFinite(err) ? err / Math.max(hi - lo, mag, 1e-6) : Infinity;
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
