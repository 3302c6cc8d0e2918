import * as ort from "onnxruntime-node";
import { CerberusError } from "../core/errors.ts";
import type { BrainModel, TxBrainModel } from "../client/brain-model.ts";
import { TxOnnxLm } from "../model/tx-onnx.ts";
import { generate, type GeneratedStep } from "../client/generate.ts";
import type { HealthReport, MinerAddress, TransportOptions } from "../client/transport.ts";
import { USER_WORKLOAD, type WorkloadModel } from "../client/workload.ts";
import type { ClientPolicy } from "../client/selection.ts";
import type { Logger } from "../core/log.ts";
import type { Libp2p } from "@libp2p/interface";
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
    return (await this.checkRounds(step, vocab, ms)).outcome;
  }

  /**
   * A transformer word against the reference, with the error of each value its rounds returned (the verdict `check`
   * gives, and what bench:tolerance measures).
   */
  async checkRounds(step: GeneratedStep, vocab: number, ms: number): Promise<{ outcome: ChallengeOutcome; values: RoundValueError[] }> {
    if (this.tx === undefined) throw new CerberusError("BAD_INPUT", "an MLP step has no rounds (check)");
    if (step.history === undefined || step.rounds === undefined) throw new CerberusError("BAD_INPUT", "a transformer step without its history and rounds");
    const ref = await this.tx.lm.run(step.history);
    const rows = ref.k - ref.ws + 1;
    const values: RoundValueError[] = [];
    for (const o of this.tx.model.plan.outputs) {
      const got = step.rounds[o.round]?.decrypted[0];
      const want = ref.outputs[o.name];
      if (got === undefined || want === undefined) return { outcome: { answered: true, top1Match: false, maxRelError: Infinity, ms }, values };
      // The window's rows of the scores, the real vocabulary of the logits.
      const n = o.name === this.tx.model.plan.outputs[0]!.name ? rows : o.name === "logits" ? vocab : want.length;
      values.push({ name: o.name, ...valueError(got, want, n) });
    }
    const logits = compare(step.logits, ref.logits, vocab, ms);
    return { outcome: { ...logits, maxRelError: Math.max(logits.maxRelError, ...values.map((v) => v.judged)) }, values };
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
  /**
   * Every miner of the Brain, as users see them (seat addresses, with incentive): the probe chooses among them exactly
   * as a user's client does, and the validator scores whichever miner the session reached.
   */
  miners: readonly MinerAddress[];
  /** Held-out prompt (samplePrompt). */
  prompt: string;
  /** Words the probe asks for, drawn from the workload model's requests (`sampleRequest`). */
  words: number;
  /** How the request is shaped into sessions: the users' model (default USER_WORKLOAD). */
  workload?: WorkloadModel;
  transport?: TransportOptions;
  /** The users' client policy (miner choice, BUSY waits); default the users' defaults. */
  client?: ClientPolicy;
  /**
   * Ends the probe early (the validator is stopping): no further session starts, the step in flight is abandoned,
   * and nothing is checked against the reference, which is about to be released.
   */
  signal?: AbortSignal;
  /** Each session's node (default a fresh dial-only node, as users' clients create): never the validator's own. */
  newNode?: () => Promise<Libp2p>;
  /** The client mixture users sample from (loadClientMixture), so probes sample as users do. */
  mixture?: LmMixture;
  seed?: number;
  /** Randomness of the miner choice (default Math.random, as users). */
  random?: () => number;
  /** Every step as it happens (input, decrypted logits), as `generate` reports it. */
  onStep?: (step: GeneratedStep) => void;
  logger?: Logger;
}

/**
 * A seat as a probe result names it: peer id and the hotkey it was dialled bound to ("peer/hotkey"), so a seat that
 * copied another's peer id is not credited with that miner's answers.
 */
export function seatKey(a: { peerId: string; hotkey?: string | undefined }): string {
  return `${a.peerId}/${a.hotkey?.toLowerCase() ?? ""}`;
}

/** What one probe found, per seat (`seatKey`) it touched. */
export interface ProbeResult {
  /** Outcomes per seat: each step it answered (checked), and each step it failed or voided (unanswered). */
  byMiner: Map<string, ChallengeOutcome[]>;
  /** Peer ids asked for health before each session opened (the users' choice of d candidates), in order. */
  asked: string[];
}

/** One session of a probe, as the probe saw it. */
interface ProbeSessionTrace {
  steps: number;
  claims: Map<string, HealthReport>;
  failures: string[];
  answered: GeneratedStep[];
}

/**
 * One probe: a real request, indistinguishable from a user's by construction. It runs `generate` — the users' own
 * code: the request shaped into sessions by the workload model (padding included), each session on a fresh node
 * with fresh keys, the miner choice over the whole Brain (health of d candidates drawn by incentive, unfit ones
 * last), failover, BUSY waits, the same sampler and messages. Nothing in it depends on which miner the validator
 * would like to check: it scores whichever miner each session reached. Every step's input and decrypted logits are
 * recorded and checked against the plaintext ONNX reference only after the request has ended, so checking adds
 * nothing a miner could time. Padding steps are checked like any other: a miner cannot know which they are.
 *
 * Attribution, per session: a step answered counts for the miner that answered it; a failure that moved the session
 * on counts as one unanswered step of the miner that failed; if the session died (and with it the request), the
 * steps it did not reach count as unanswered for the last miner that failed.
 */
export async function probeSession(options: ProbeSessionOptions): Promise<ProbeResult> {
  const { model, reference } = options;
  const sessions: ProbeSessionTrace[] = [];
  const current = (): ProbeSessionTrace => sessions.at(-1)!;
  const asked: string[] = [];
  /** The validator is stopping: nothing failed, and nothing more is checked against the reference it will release. */
  const stopping = () => options.signal?.aborted === true;
  let died = false;
  await generate({
    model, miners: options.miners, prompt: options.prompt, words: options.words,
    workload: options.workload ?? USER_WORKLOAD,
    newNode: options.newNode ?? (() => createCerberusNode({ listen: [] })),
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.mixture !== undefined ? { mixture: options.mixture } : {}),
    ...(options.random !== undefined ? { random: options.random } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    // Exactly the users' policy: no special case for probes (what a miner sees must not differ).
    ...(options.client?.selection !== undefined ? { selection: options.client.selection } : {}),
    ...(options.client?.busy !== undefined ? { busy: options.client.busy } : {}),
    onSession: (s) => sessions.push({ steps: s.steps, claims: new Map(), failures: [], answered: [] }),
    onSelect: (choice) => {
      asked.push(...choice.health.keys());
      current().claims = new Map([...choice.health].flatMap(([peer, h]) => (h instanceof CerberusError ? [] : [[peer, h] as const])));
      for (const [peer, why] of choice.unfit) options.logger?.info({ miner: peer, why }, "probe: a user would try this miner last");
    },
    onFailover: (e) => { current().failures.push(seatKey(e.from)); },
    onStep: (s) => { current().answered.push(s); options.onStep?.(s); },
  }).catch((err: unknown) => {
    // A miner that errors, times out, drops the session or sends undecryptable bytes fails the step in flight;
    // when no miner is left the request ends there, as a user's generation would.
    if (!(err instanceof CerberusError)) throw err;
    died = true;
    if (stopping()) return;
    const detail = err instanceof AllMinersFailedError ? err.attempts.map((a) => `${a.code}: ${a.message}`).join("; ") : err.message;
    options.logger?.warn({ session: sessions.length - 1, step: sessions.at(-1)?.answered.length ?? 0, code: err.code,
      detail: detail.slice(0, 300) }, "probe session failed");
  });
  const byMiner = new Map<string, ChallengeOutcome[]>();
  if (stopping()) return { byMiner, asked };
  const add = (peer: string, o: readonly ChallengeOutcome[]) => byMiner.set(peer, [...(byMiner.get(peer) ?? []), ...o]);
  for (const [k, t] of sessions.entries()) {
    const endedHere = died && k === sessions.length - 1;
    t.failures.forEach((peer, i) => {
      const last = endedHere && i === t.failures.length - 1;
      add(peer, unanswered(last ? Math.max(1, t.steps - t.answered.length) : 1));
    });
    const first = t.answered[0];
    if (first !== undefined && !endedHere && t.failures.length === 0 && brokenClaim(t.claims.get(first.miner), t.answered)) {
      // It told users it was busy (or slow) and was not: they went elsewhere, so this session counts as no work.
      options.logger?.info({ miner: first.miner, claim: t.claims.get(first.miner)?.queue, firstStepMs: Math.round(first.ms) },
        "probe: the miner stated a queue it did not have");
      add(seatKey({ peerId: first.miner, hotkey: first.hotkey }), unanswered(t.steps));
      continue;
    }
    for (const s of t.answered) {
      if (stopping()) return { byMiner: new Map(), asked };
      add(seatKey({ peerId: s.miner, hotkey: s.hotkey }),
        [await reference.check(s, model.client.vocab.size, chargedMs(s, t.claims.get(s.miner)))]);
    }
  }
  return { byMiner, asked };
}

/** Claims below this are not checked: a short honest queue may well have drained by the time the steps arrive. */
export const CLAIM_CHECK_MIN_MS = 1_000;

/**
 * Whether the probe met a miner's health claim — the claim users choose by. A miner that states a long queue (or
 * slow steps) so that users go elsewhere, while it serves the probes that come anyway, is lying about the one thing
 * that sent users away. The claim is broken when it states a wait W ≥ 1 s but the first word — the session's open
 * (key upload) and its first step, both of which wait in the miner's one evaluation FIFO — took less than W/4 beyond
 * the stated step time, or a step time S ≥ 1 s but every later step took less than S/4. The first word's time
 * includes the open on purpose: an honest queue makes the open wait (keys load in the same FIFO), so the wait a
 * miner states is served there as often as in the first step.
 */
export function brokenClaim(claim: HealthReport | undefined, steps: readonly { index: number; ms: number }[]): boolean {
  if (claim === undefined || steps.length === 0) return false;
  const { expectedWaitMs: W, recentStepMs: S } = claim.queue;
  const first = steps.find((s) => s.index === 0);
  if (W >= CLAIM_CHECK_MIN_MS && first !== undefined && first.ms - S < W / 4) return true;
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

/**
 * The error of a value a round returns, as the validator judges it: max |got − want| over the first n values, over
 * max(range of want, max |want|, 1).
 *
 * Why the floor of 1: CKKS's error is absolute — it is set by the plan's scale and depth, not by the values — while a
 * short window's scores can all sit within 0.03 of each other. Measured on honest steps of the test transformer, the
 * absolute error of the scores stayed within 3.7e-4 … 7.9e-4 while their range went down to 0.03, so "relative to
 * the range" read 1.02e-2 on a correct answer. Scores and logits are softmax inputs, and there an error ε moves
 * every probability by a factor within e^(±2ε), whatever the values' range: below a range of 1, the error in
 * absolute units is the one that measures what the user gets. Above it the range is the yardstick, as for the MLP.
 */
export function roundValueError(got: ArrayLike<number>, want: ArrayLike<number>, n: number): number {
  return valueError(got, want, n).judged;
}

/** One value of a round against the reference: max |got − want| (absolute), and as judged (`roundValueError`). */
export interface RoundValueError { name: string; absolute: number; judged: number }

function valueError(got: ArrayLike<number>, want: ArrayLike<number>, n: number): { absolute: number; judged: number } {
  let lo = Infinity, hi = -Infinity, err = 0, mag = 0;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, want[i]!);
    hi = Math.max(hi, want[i]!);
    mag = Math.max(mag, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return { absolute: err, judged: Number.isFinite(err) ? err / Math.max(hi - lo, mag, 1) : Infinity };
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

/** The outcomes one probe filed for the miner `peerId`, over whatever seats it was dialled as (empty if never reached). */
export function outcomesOf(result: ProbeResult, peerId: string): ChallengeOutcome[] {
  return [...result.byMiner].flatMap(([key, o]) => (key.startsWith(`${peerId}/`) ? o : []));
}
