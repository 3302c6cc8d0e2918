import { CerberusError } from "../core/errors.ts";
import { FheClient, type KeygenResult } from "../fhe/client.ts";
import { RoundClient } from "../fhe/round-client.ts";
import { TxStepper, type RoundRecord } from "./tx-rounds.ts";
import type { SEALLibrary } from "../fhe/seal.ts";
import { softmax } from "../model/client-model.ts";
import { temper, type LmMixture } from "../model/mixture.ts";
import { draw, LEGACY_SAMPLER, samplingDistribution, type SamplerSettings } from "../model/sampler.ts";

export { topKOnly } from "../model/sampler.ts";
import { createRng, type Rng } from "../core/prng.ts";
import type { BrainModel, MlpBrainModel, TxBrainModel } from "./brain-model-core.ts";
import { FailoverSession, RestartWordError, type FailoverEvent, type FailoverOptions, type FailoverStats } from "./failover.ts";
import { chooseMiners, type MinerChoice, type SelectionPolicy } from "./selection.ts";
import { InferClient, type MinerAddress, type RequestOptions, type TransportOptions } from "./transport.ts";
import { shapeRequest, USER_WORKLOAD, type WorkloadModel } from "./workload.ts";
import type { Libp2p } from "@libp2p/interface";

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

/** What one session needs, whichever way it is driven (a shaped request, or a single session). */
interface SessionBase extends SamplingOptions {
  model: BrainModel;
  /**
   * Candidate miners (e.g. `rankMiners`: by on-chain incentive). Before each session opens, a few are drawn and asked
   * for their health, and the session tries them in the order `chooseMiners` gives (selection.ts), failing over
   * along it.
   */
  miners: readonly MinerAddress[];
  /** Miner selection knobs (default DEFAULT_SELECTION; see ClientPolicy). */
  selection?: Partial<SelectionPolicy>;
  /** Called with the selection before a session opens (the order tried, the health answers). */
  onSelect?: (choice: MinerChoice) => void;
  /** BUSY handling (FailoverOptions: maxBusyWaitMs, busyBudgetMs, onBusy). */
  busy?: Pick<FailoverOptions, "maxBusyWaitMs" | "busyBudgetMs" | "onBusy">;
  /** Source of randomness of the selection and of the shaping (default Math.random); the sampler has its own `seed`. */
  random?: () => number;
  prompt: string;
  words: number;
  stepTimeoutMs?: number;
  /**
   * Every step's plaintext input and decrypted logits, as they happen (a validator checks them against the
   * plaintext reference AFTER the session, so checking adds no time between steps that a miner could see).
   */
  onStep?: (step: GeneratedStep) => void;
  onFailover?: (event: FailoverEvent) => void;
  /**
   * Called once a session's keys exist (before any upload): their size, the time to set up SEAL's context and the
   * secret key (`setupMs`; the context is cached per process) and to generate the evaluation keys (`keygenMs`).
   */
  onKeys?: (keys: { keyBytes: number; setupMs: number; keygenMs: number }) => void;
  signal?: AbortSignal;
  /** The SEAL library (default: node-seal's Node build; a browser injects the web build). */
  seal?: SEALLibrary;
}

/** One session on one libp2p node: exactly `words` steps (tests, and benchmarks of a session's cost). */
export interface SessionRequest extends SessionBase {
  infer: InferClient;
  onWord?: (word: GeneratedWord) => void;
}

/**
 * A request as every client we ship makes it (`generate`): the words a user asks for, shaped into sessions by the
 * workload model so that a miner cannot see how many were asked for.
 */
export interface GenerateRequest extends SessionBase {
  /**
   * The libp2p node of each session, created for it and stopped when it ends (`createCerberusNode({ listen: [] })`,
   * or a browser's `createBrowserNode`): a fresh identity per session, so a miner cannot link a request's sessions
   * by who sent them.
   */
  newNode: () => Promise<Libp2p>;
  transport?: TransportOptions;
  /** How requests are shaped (default USER_WORKLOAD): the model the Brain's validators probe with. */
  workload?: WorkloadModel;
  /** Each word the user asked for as it arrives (padding words are not reported). */
  onWord?: (word: GeneratedWord) => void;
  /** Each session as it starts: its place in the request, its steps, and how many of them are padding. */
  onSession?: (session: { index: number; steps: number; padding: number }) => void;
}

export interface GeneratedStep {
  /** The step's place in its session (0 = the step after the key upload). */
  index: number;
  /** The session's place in the request (0 for a lone session). */
  session: number;
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
  /** The words asked for (padding excluded). */
  words: GeneratedWord[];
  /** One-time key uploads (bytes) summed over the sessions opened (each session and each failover uploads). */
  keyBytes: number;
  /** Wall time of those key uploads (included in the first word's `ms` of each session, and after a failover). */
  keyUploadMs: number;
  /** Sessions the request was shaped into (1 for a lone session). */
  sessions: number;
  /** Steps run and discarded to hide the request's length. */
  paddingWords: number;
  sessionsOpened: number;
  failovers: number;
  /** BUSY replies waited out on the same miner, and the time spent waiting. */
  busyWaits: number;
  busyWaitMs: number;
}

interface Sampling {
  settings: SamplerSettings;
  rng: Rng;
  exclude: number[];
}

function samplingOf(request: SessionBase): Sampling {
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
  const exclude = request.excludeUnknown === false ? [] : [request.model.client.vocab.unkId];
  return { settings, rng, exclude };
}

function promptIds(request: SessionBase): number[] {
  const context = request.model.client.encode(request.prompt);
  if (context.length === 0) throw new CerberusError("EMPTY_PROMPT", "the prompt has no words: give at least one word");
  return context;
}

/**
 * Generation as every client we ship runs it. The request is shaped by the workload model (`shapeRequest`):
 * sessions whose lengths are drawn from the model until they cover the words asked for, the last padded with steps
 * whose words are discarded. Each session has a fresh node (identity), fresh keys and its own choice of miner, and
 * continues the text where the last left it (the client holds the context). So a miner sees sessions distributed
 * as the model says whatever was asked, exactly as it sees validators' probes, which are shaped the same way.
 * The cost: the padding steps and a key upload per session (docs/PROTOCOL.md, "User workload model").
 */
export async function generate(request: GenerateRequest): Promise<GenerateResult> {
  const sampling = samplingOf(request);
  const context = promptIds(request);
  const shaped = shapeRequest(request.words, request.workload ?? USER_WORKLOAD, request.random ?? Math.random);
  const words: GeneratedWord[] = [];
  const stats: FailoverStats[] = [];
  let done = 0;
  for (const [index, steps] of shaped.sessions.entries()) {
    if (request.signal?.aborted === true) throw new CerberusError("ABORTED", "generation aborted");
    done += steps;
    const padding = Math.max(0, done - request.words);
    request.onSession?.({ index, steps, padding });
    const node = await request.newNode();
    const infer = new InferClient(node, request.transport);
    try {
      stats.push(await runSession(request, infer, sampling, context, steps, index, (w) => {
        if (words.length >= request.words) return; // padding: generated like any word, never shown
        const word = { ...w, index: words.length };
        words.push(word);
        request.onWord?.(word);
      }));
    } finally {
      await infer.close().catch(() => {});
      await node.stop();
    }
  }
  return resultOf(request.prompt, words, stats, shaped.padding);
}

/**
 * One session of exactly `words` steps on the given node, unshaped: what tests and the load benchmark measure. A
 * client that shows text to people uses `generate`, whose sessions a miner cannot tell from probes.
 */
export async function generateSession(request: SessionRequest): Promise<GenerateResult> {
  const sampling = samplingOf(request);
  const context = promptIds(request);
  const words: GeneratedWord[] = [];
  const stats = await runSession(request, request.infer, sampling, context, request.words, 0, (w) => {
    words.push(w);
    request.onWord?.(w);
  });
  return resultOf(request.prompt, words, [stats], 0);
}

/** A request's result from the words shown and each of its sessions' failover stats. */
function resultOf(prompt: string, words: GeneratedWord[], sessions: readonly FailoverStats[], paddingWords: number): GenerateResult {
  const sum = (f: (s: FailoverStats) => number) => sessions.reduce((a, s) => a + f(s), 0);
  return {
    prompt, text: words.map((w) => w.word).join(" "), words,
    keyBytes: sum((s) => s.openBytesUp), keyUploadMs: sum((s) => s.openMs), sessions: sessions.length, paddingWords,
    sessionsOpened: sum((s) => s.sessionsOpened), failovers: sum((s) => s.failovers),
    busyWaits: sum((s) => s.busyWaits), busyWaitMs: sum((s) => s.busyWaitMs),
  };
}

/**
 * One session: keys, the choice of miner, `steps` encrypted words appended to `context`. Per word, the client
 * embeds the context, encrypts, the miner runs the model on the ciphertext, the client decrypts the logits and
 * samples. The miner sees ciphertexts only. If a miner fails or times out mid-session, the failover session
 * re-sends the same step to the next miner; the text so far is never lost.
 */
async function runSession(request: SessionBase, infer: InferClient, sampling: Sampling, context: number[], steps: number,
  sessionIndex: number, emit: (word: GeneratedWord) => void): Promise<FailoverStats> {
  const { model } = request;
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
  try {
    for (let index = 0; index < steps; index++) {
      const started = performance.now();
      const result = await fhe.word(context, session, {
        ...(request.stepTimeoutMs !== undefined ? { timeoutMs: request.stepTimeoutMs } : {}),
        ...(request.signal !== undefined ? { signal: request.signal } : {}),
      });
      const logits = result.logits;
      request.onStep?.({ index, session: sessionIndex, ...result.step, logits, ms: performance.now() - started, miner: result.miner.peerId,
        ...(result.miner.hotkey !== undefined ? { hotkey: result.miner.hotkey } : {}) });
      const probs = wordDistribution(logits, model.client.vocab.size, context, 1, request.mixture);
      // Excluded ids leave before the top-k cut (samplingDistribution): with top-k 1 and <unk> on top, the best real
      // word is drawn.
      const id = draw(samplingDistribution(probs, sampling.settings, sampling.exclude), sampling.rng);
      context.push(id);
      emit({
        index, id, word: model.client.vocab.words[id] ?? "<unk>", ms: performance.now() - started,
        bytesUp: result.bytesUp, bytesDown: result.bytesDown, miner: result.miner.peerId,
      });
    }
  } finally {
    await session.close();
    fhe.dispose();
  }
  return session.stats;
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

/**
 * The distribution the next word is sampled from (before top-k and excluded ids): the MLP's softmax of the decrypted
 * logits, mixed on the client when a mixture is given (at temperature 1 exactly what bench:model scores), tempered.
 */
export function wordDistribution(logits: ArrayLike<number>, vocab: number, context: readonly number[], temperature: number,
  mixture?: LmMixture): Float64Array {
  if (mixture === undefined) return softmax(logits, vocab, temperature);
  return temper(mixture.distribution(softmax(logits, vocab), context), temperature);
}

