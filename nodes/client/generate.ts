import { CerberusError } from "../core/errors.ts";
import { FheClient, type KeygenResult } from "../fhe/client.ts";
import { RoundClient } from "../fhe/round-client.ts";
import { TxStepper, type RoundRecord } from "./tx-rounds.ts";
import type { SEALLibrary } from "../fhe/seal.ts";
import { softmax } from "../model/client-model.ts";
import { temper, type LmMixture } from "../model/mixture.ts";
import { draw, LEGACY_SAMPLER, samplingDistribution, type SamplerSettings } from "../model/sampler.ts";

export { topKOnly } from "../model/sampler.ts";
import { createRng } from "../core/prng.ts";
import type { BrainModel, MlpBrainModel, TxBrainModel } from "./brain-model-core.ts";
import { FailoverSession, RestartWordError, type FailoverEvent, type FailoverOptions } from "./failover.ts";
import { chooseMiners, type MinerChoice, type SelectionPolicy } from "./selection.ts";
import type { InferClient, MinerAddress, RequestOptions } from "./transport.ts";

export interface SamplingOptions {
  /**
   * Softmax temperature. Temperature, top-k and top-p default to the model's shipped sampler (the mixture's `sampler`,
   * chosen per model by `npm run train`; nodes/model/sampler.ts), else T 0.8 / top-k 40.
   */
  temperature?: number;
  /** Sample among the k most likely words only (1 = greedy). */
  topK?: number;
  /** Then among the smallest most likely set holding this share of the mass (1 = all). */
  topP?: number;
  /** Seed of the sampler (default: random). */
  seed?: number;
  /** Never emit the unknown-word symbol (default true). */
  excludeUnknown?: boolean;
  /**
   * The client-side mixture (mixture.ts: KN trigram + cache over the words so far) to sample from instead of the MLP
   * alone — the distribution `bench:model` scores as the shipped model. Temperature and top-k then apply to the
   * mixture. Costs the miner nothing: the client holds the context.
   */
  mixture?: LmMixture;
}

export interface GeneratedWord {
  index: number;
  word: string;
  id: number;
  /** Wall time of the encrypted step: encrypt + round trip + decrypt. */
  ms: number;
  bytesUp: number;
  bytesDown: number;
  /** Peer id of the miner that answered. */
  miner: string;
}

export interface GenerateRequest extends SamplingOptions {
  model: BrainModel;
  infer: InferClient;
  /**
   * Candidate miners (e.g. `rankMiners`: by on-chain incentive). Before the session opens, a few are drawn and asked
   * for their health, and the session tries them in the order `chooseMiners` gives (selection.ts), failing over
   * along it.
   */
  miners: readonly MinerAddress[];
  /** Miner selection knobs (default DEFAULT_SELECTION; see ClientPolicy). */
  selection?: Partial<SelectionPolicy>;
  /** Called with the selection before the session opens (the order tried, the health answers). */
  onSelect?: (choice: MinerChoice) => void;
  /** BUSY handling (FailoverOptions: maxBusyWaitMs, busyBudgetMs, onBusy). */
  busy?: Pick<FailoverOptions, "maxBusyWaitMs" | "busyBudgetMs" | "onBusy">;
  /** Source of randomness of the selection (default Math.random); the sampler has its own `seed`. */
  random?: () => number;
  prompt: string;
  words: number;
  stepTimeoutMs?: number;
  onWord?: (word: GeneratedWord) => void;
  /**
   * Every step's plaintext input and decrypted logits, as they happen (a validator checks them against the
   * plaintext reference AFTER the session, so checking adds no time between steps that a miner could see).
   */
  onStep?: (step: GeneratedStep) => void;
  /** Pause before word i (the user's think time, see workload.ts); missing entries are 0. */
  thinkMs?: readonly number[];
  onFailover?: (event: FailoverEvent) => void;
  /**
   * Called once the session keys exist (before any upload): their size, the time to set up SEAL's context and the
   * secret key (`setupMs`; the context is cached per process) and to generate the evaluation keys (`keygenMs`).
   */
  onKeys?: (keys: { keyBytes: number; setupMs: number; keygenMs: number }) => void;
  signal?: AbortSignal;
  /** The SEAL library (default: node-seal's Node build; a browser injects the web build). */
  seal?: SEALLibrary;
}

export interface GeneratedStep {
  index: number;
  /** MLP: the encrypted context input. Transformer: the newest row (the query). */
  input: Float32Array;
  logits: Float32Array;
  /** Transformer (round plans): the history the word was predicted from and every round, as the client saw it. */
  history?: number[];
  rounds?: RoundRecord[];
  /** Wall time of the encrypted step: encrypt + round trip + decrypt. */
  ms: number;
  /** Peer id of the miner that answered. */
  miner: string;
  /** The seat hotkey the session was bound to when it answered (undefined for an address without one). */
  hotkey?: string;
}

export interface GenerateResult {
  prompt: string;
  text: string;
  words: GeneratedWord[];
  /** One-time key upload (bytes) summed over the sessions opened (a failover uploads again). */
  keyBytes: number;
  /** Wall time of those key uploads (included in the first word's `ms`, and in the word after a failover). */
  keyUploadMs: number;
  sessionsOpened: number;
  failovers: number;
  /** BUSY replies waited out on the same miner, and the time spent waiting. */
  busyWaits: number;
  busyWaitMs: number;
}

/**
 * Autoregressive generation with the prompt and every generated word kept on the client: per word, the client
 * embeds the last n−1 words, encrypts, the miner runs the model on the ciphertext, the client decrypts the logits and
 * samples. The miner sees ciphertexts only. If a miner fails or times out mid-generation, the failover session
 * re-sends the same step to the next miner; the text so far is never lost.
 */
export async function generate(request: GenerateRequest): Promise<GenerateResult> {
  const { model, infer } = request;
  if (!Number.isInteger(request.words) || request.words < 1) {
    throw new CerberusError("BAD_REQUEST", `words must be a positive integer, got ${request.words}`);
  }
  const shipped = request.mixture?.config.sampler ?? LEGACY_SAMPLER;
  const settings: SamplerSettings = {
    temperature: request.temperature ?? shipped.temperature,
    topK: request.topK ?? shipped.topK,
    topP: request.topP ?? shipped.topP,
  };
  if (!(settings.temperature > 0) || (settings.topK !== null && (!Number.isInteger(settings.topK) || settings.topK < 1))
    || !(settings.topP > 0 && settings.topP <= 1)) {
    throw new CerberusError("BAD_REQUEST", "temperature must be > 0, topK a positive integer and topP in (0, 1]");
  }
  const rng = createRng(request.seed ?? Math.floor(Math.random() * 2 ** 31));
  const exclude = request.excludeUnknown === false ? [] : [model.client.vocab.unkId];
  const context = model.client.encode(request.prompt);
  if (context.length === 0) throw new CerberusError("EMPTY_PROMPT", "the prompt has no words: give at least one word");
  const setupStarted = performance.now();
  const fhe = model.kind === "mlp" ? await mlpWords(model, request.seal) : await roundWords(model, request.seal);
  const keygenStarted = performance.now();
  const keys = fhe.keygen();
  request.onKeys?.({ keyBytes: keys.keyBytes, setupMs: keygenStarted - setupStarted, keygenMs: performance.now() - keygenStarted });
  let session: FailoverSession | undefined;
  try {
    const choice = await chooseMiners(infer, request.miners, {
      planId: model.descriptor.planId, ...(request.selection !== undefined ? { policy: request.selection } : {}),
      ...(request.random !== undefined ? { random: request.random } : {}),
      ...(request.signal !== undefined ? { signal: request.signal } : {}),
    });
    request.onSelect?.(choice);
    session = new FailoverSession(infer, choice.order, keys, {
      ...request.busy,
      ...(request.onFailover !== undefined ? { onFailover: request.onFailover } : {}),
    });
  } catch (err) {
    fhe.dispose();
    throw err;
  }
  const words: GeneratedWord[] = [];
  try {
    for (let index = 0; index < request.words; index++) {
      const pause = request.thinkMs?.[index] ?? 0;
      if (pause > 0) await sleep(pause, request.signal);
      const started = performance.now();
      const result = await fhe.word(context, session, {
        ...(request.stepTimeoutMs !== undefined ? { timeoutMs: request.stepTimeoutMs } : {}),
        ...(request.signal !== undefined ? { signal: request.signal } : {}),
      });
      const logits = result.logits;
      request.onStep?.({ index, ...result.step, logits, ms: performance.now() - started, miner: result.miner.peerId,
        ...(result.miner.hotkey !== undefined ? { hotkey: result.miner.hotkey } : {}) });
      const probs = wordDistribution(logits, model.client.vocab.size, context, 1, request.mixture);
      // Excluded ids leave before the top-k cut (samplingDistribution): with top-k 1 and <unk> on top, the best real
      // word is drawn.
      const id = draw(samplingDistribution(probs, settings, exclude), rng);
      context.push(id);
      const word: GeneratedWord = {
        index, id, word: model.client.vocab.words[id] ?? "<unk>", ms: performance.now() - started,
        bytesUp: result.bytesUp, bytesDown: result.bytesDown, miner: result.miner.peerId,
      };
      words.push(word);
      request.onWord?.(word);
    }
  } finally {
    await session.close();
    fhe.dispose();
  }
  return {
    prompt: request.prompt,
    text: words.map((w) => w.word).join(" "),
    words,
    keyBytes: session.stats.openBytesUp,
    keyUploadMs: session.stats.openMs,
    sessionsOpened: session.stats.sessionsOpened,
    failovers: session.stats.failovers,
    busyWaits: session.stats.busyWaits,
    busyWaitMs: session.stats.busyWaitMs,
  };
}

/** One encrypted word, however many rounds it takes: the FHE client of a model family and its step. */
interface WordEngine {
  keygen(): KeygenResult;
  word(context: readonly number[], session: FailoverSession, options: RequestOptions): Promise<{
    logits: Float32Array; miner: MinerAddress; bytesUp: number; bytesDown: number; step: Pick<GeneratedStep, "input" | "history" | "rounds">;
  }>;
  dispose(): void;
}

/** MLP: one step per word — the last n−1 words embedded and encrypted, the logits decrypted. */
async function mlpWords(model: MlpBrainModel, seal?: SEALLibrary): Promise<WordEngine> {
  const fhe = await FheClient.create(model.descriptor, seal);
  return {
    keygen: () => fhe.keygen(),
    async word(context, session, options) {
      const input = model.client.contextInput(context);
      // Decrypting inside the failover: a miner whose result does not decrypt (a bomb, garbage) is skipped.
      const r = await session.stepDecoded(fhe.encryptInput(input), (outputs) => fhe.decryptOutput(outputs), options);
      return { logits: r.value, miner: r.miner, bytesUp: r.stats.bytesUp, bytesDown: r.stats.bytesDown, step: { input } };
    },
    dispose: () => fhe.dispose(),
  };
}

/**
 * Transformer: the plan's rounds per word (tx-rounds.ts), the miner keeping the key/value cache between words. A
 * failure after round 0 restarts the word on the next miner (with a prefill of the window's rows).
 */
async function roundWords(model: TxBrainModel, seal?: SEALLibrary): Promise<WordEngine> {
  const fhe = await RoundClient.create(model.plan, model.descriptor, seal);
  const stepper = new TxStepper(model.client, fhe);
  return {
    keygen: () => fhe.keygen(),
    async word(context, session, options) {
      for (;;) {
        let miner: MinerAddress | undefined;
        try {
          const r = await stepper.step(context, async (round, build) => {
            const res = await session.round(round, build, (outputs) => { fhe.decryptOutputs(round, outputs); return outputs; }, options);
            miner = res.miner;
            return res.outputs;
          });
          const bytesUp = r.rounds.reduce((a, x) => a + x.bytesUp, 0), bytesDown = r.rounds.reduce((a, x) => a + x.bytesDown, 0);
          return { logits: r.logits, miner: miner!, bytesUp, bytesDown,
            step: { input: model.client.row(context, r.k), history: [...context], rounds: r.rounds } };
        } catch (err) {
          if (err instanceof RestartWordError) { stepper.reset(); continue; }
          throw err;
        }
      }
    },
    dispose: () => fhe.dispose(),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(new CerberusError("ABORTED", "generation aborted"));
    const timer = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(new CerberusError("ABORTED", "generation aborted")); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The distribution the next word is sampled from (before top-k and excluded ids): the MLP's softmax of the decrypted
 * logits, mixed on the client when a mixture is given (at temperature 1 exactly what bench:model scores), tempered.
 */
export function wordDistribution(logits: ArrayLike<number>, vocab: number, context: readonly number[], temperature: number,
  mixture?: LmMixture): Float64Array {
  if (mixture === undefined) return softmax(logits, vocab, temperature);
  return temper(mixture.distribution(softmax(logits, vocab), context), temperature);
}

