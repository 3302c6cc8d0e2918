/**
 * The heavy half of the Generate page, loaded only when a person generates: node-seal's web build, a browser
 * libp2p node, and the SAME client code as the CLI (nodes/client: model checks, generate loop, failover, transport).
 * The secret key is created inside FheClient in this page and never leaves it; only public evaluation keys and
 * ciphertexts go to the miner.
 */
import SEAL from "node-seal/throws_wasm_web_es.js";
import { assembleBrainModel, clientFormatOf, type BrainModel } from "../../../nodes/client/brain-model-core.ts";
import { RoundPlanOptionsSchema } from "../../../nodes/fhe/round-plan.ts";
import { parseTransformerClient } from "../../../nodes/model/transformer-client.ts";
import { generate, type GeneratedWord, type GenerateResult } from "../../../nodes/client/generate.ts";
import type { FailoverEvent } from "../../../nodes/client/failover.ts";
import type { MinerChoice } from "../../../nodes/client/selection.ts";
import type { MinerAddress } from "../../../nodes/client/transport.ts";
import { USER_WORKLOAD, type WorkloadModel } from "../../../nodes/client/workload.ts";
import type { SEALLibrary } from "../../../nodes/fhe/seal.ts";
import { parseClientModel } from "../../../nodes/model/client-model.ts";
import { buildLmMixture, idsFromLittleEndian, parseMixtureConfig, type LmMixture } from "../../../nodes/model/mixture.ts";
import { createBrowserNode } from "../../../nodes/net/browser-node.ts";

let seal: Promise<SEALLibrary> | undefined;
function loadSealWeb(): Promise<SEALLibrary> {
  // The web build's default export is the factory (its .d.ts types it as the library's loader).
  seal ??= (SEAL as unknown as () => Promise<SEALLibrary>)();
  return seal;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return new Uint8Array(await res.arrayBuffer());
}

const models = new Map<string, BrainModel>();

/**
 * The Brain's model files from the dashboard's /models/, checked exactly as the CLI's loadPinnedModel does: the
 * ONNX bytes must hash to the Brain's modelHash and the compiled FHE plan must have its fheParamsHash (a mismatch is
 * a typed MODEL_HASH_MISMATCH error), and the client part must fit the plan.
 */
export async function loadModel(name: string, brain: { modelHash: string; fheParamsHash: string }): Promise<BrainModel> {
  const key = `${name} ${brain.modelHash} ${brain.fheParamsHash}`;
  const cached = models.get(key);
  if (cached !== undefined) return cached;
  const base = `/models/${encodeURIComponent(name)}`;
  const [onnxBytes, clientJson, clientBin] = await Promise.all([
    fetchBytes(`${base}.onnx`), fetchBytes(`${base}.client.json`), fetchBytes(`${base}.client.bin`),
  ]);
  // Either family: an MLP (one step a word) or a transformer (rounds a word; its plan options in <name>.plan.json).
  const transformer = clientFormatOf(clientJson) === "transformer";
  const planOptions = transformer ? RoundPlanOptionsSchema.parse((JSON.parse(new TextDecoder().decode(await fetchBytes(`${base}.plan.json`))) as { options?: unknown }).options) : undefined;
  const model = assembleBrainModel({
    name, onnxBytes,
    client: transformer ? parseTransformerClient(clientJson, clientBin, `${name}.client.json`) : parseClientModel(clientJson, clientBin, `${name}.client.json`),
    ...(planOptions !== undefined ? { planOptions } : {}),
    expectedModelHash: brain.modelHash, expectedPlanHash: brain.fheParamsHash,
  });
  models.set(key, model);
  return model;
}

const mixtures = new Map<string, Promise<{ mixture: LmMixture; buildMs: number }>>();

/**
 * The client mixture the CLI samples from (nodes/model/mixture.ts): its config and the train split in the model's id
 * order from the dashboard's /models/, the split checked against the sha256 the config pins, the KN counts built
 * here (≈ 1 s, once per page). The miner sees none of it.
 */
export function loadMixture(model: BrainModel): Promise<{ mixture: LmMixture; buildMs: number }> {
  const key = `${model.name} ${model.modelHash}`;
  let pending = mixtures.get(key);
  if (pending === undefined) {
    const base = `/models/${encodeURIComponent(model.name)}`;
    pending = (async () => {
      const [json, ids] = await Promise.all([fetchBytes(`${base}.mixture.json`), fetchBytes(`${base}.train-ids.bin`)]);
      const t0 = performance.now();
      const config = parseMixtureConfig(JSON.parse(new TextDecoder().decode(json)), `${model.name}.mixture.json`);
      const mixture = buildLmMixture(config, idsFromLittleEndian(ids), model.client.vocab.size, `${model.name}.train-ids.bin`);
      return { mixture, buildMs: performance.now() - t0 };
    })();
    pending.catch(() => mixtures.delete(key)); // a failed fetch may be retried by the next Generate
    mixtures.set(key, pending);
  }
  return pending;
}

export interface RunOptions {
  model: BrainModel;
  /** Sample from the client mixture instead of the MLP alone (loadMixture). */
  mixture?: LmMixture;
  miners: readonly MinerAddress[];
  prompt: string;
  words: number;
  /** Sampler overrides; absent = the model's shipped sampler (its mixture.json), else T 0.8 / top-k 40. */
  topK?: number;
  temperature?: number;
  seed?: number;
  /** Dial private / plain-ws addresses (local chains); see createBrowserNode. */
  allowPrivate: boolean;
  stepTimeoutMs?: number;
  signal?: AbortSignal;
  onSeal?: (ms: number) => void;
  onKeys?: (keys: { keyBytes: number; setupMs: number; keygenMs: number }) => void;
  onWord?: (word: GeneratedWord) => void;
  onFailover?: (event: FailoverEvent) => void;
  /** The miner choice before each session opens (health asked, unfit miners and why). */
  onSelect?: (choice: MinerChoice) => void;
  /** Each session of the shaped request as it starts (how many of its steps are padding). */
  onSession?: (session: { index: number; steps: number; padding: number }) => void;
  /** How the request is shaped into sessions (default USER_WORKLOAD; a local demo network probes with COMPRESSED_WORKLOAD). */
  workload?: WorkloadModel;
}

export async function run(o: RunOptions): Promise<GenerateResult & { sealLoadMs: number }> {
  const t0 = performance.now();
  const lib = await loadSealWeb();
  const sealLoadMs = performance.now() - t0;
  o.onSeal?.(sealLoadMs);
  // A fresh browser node per session (the request is shaped into sessions; see nodes/client/generate.ts).
  const result = await generate({
    model: o.model, miners: o.miners, prompt: o.prompt, words: o.words, seal: lib,
    newNode: () => createBrowserNode({ allowPrivate: o.allowPrivate }),
    transport: { stepTimeoutMs: o.stepTimeoutMs ?? 30_000 },
    workload: o.workload ?? USER_WORKLOAD,
    ...(o.topK !== undefined ? { topK: o.topK } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.mixture !== undefined ? { mixture: o.mixture } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.onKeys !== undefined ? { onKeys: o.onKeys } : {}),
    ...(o.onWord !== undefined ? { onWord: o.onWord } : {}),
    ...(o.onFailover !== undefined ? { onFailover: o.onFailover } : {}),
    ...(o.onSelect !== undefined ? { onSelect: o.onSelect } : {}),
    ...(o.onSession !== undefined ? { onSession: o.onSession } : {}),
  });
  return { ...result, sealLoadMs };
}
