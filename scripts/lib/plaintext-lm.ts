// The committed model of a Brain as a plaintext next-word distribution (onnxruntime on the miner's exact ONNX + the
// client's part), for benches that sample or score text without the network.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadClientModel, loadMinerModel, type ClientModel } from "../../nodes/model/lm.ts";
import { parseTransformerClient, type TransformerClient } from "../../nodes/model/transformer-client.ts";
import { TxOnnxLm } from "../../nodes/model/tx-onnx.ts";
import { mlpFromArtifacts } from "../../nodes/train/committed.ts";
import { OnnxLm } from "../../nodes/train/onnx-lm.ts";

export interface PlaintextLm {
  kind: "MLP" | "transformer";
  client: ClientModel | TransformerClient;
  /** The model's own next-word distribution over the V words (no client mixture). */
  distribution(context: readonly number[]): Promise<Float64Array>;
  release(): Promise<void>;
}

export async function loadPlaintextLm(dir: string, name: string): Promise<PlaintextLm> {
  const json = readFileSync(join(dir, `${name}.client.json`));
  if (json.toString("utf8", 0, 200).includes("cerberus-tx-client/1")) {
    const client = parseTransformerClient(json, new Uint8Array(readFileSync(join(dir, `${name}.client.bin`))));
    const lm = await TxOnnxLm.create(new Uint8Array(readFileSync(join(dir, `${name}.onnx`))), client);
    return { kind: "transformer", client, distribution: (ctx) => lm.distribution(ctx), release: () => lm.release() };
  }
  const client = loadClientModel(join(dir, `${name}.client.json`));
  const { model: miner, bytes } = loadMinerModel(join(dir, `${name}.onnx`), client.vocab.size);
  const { params } = mlpFromArtifacts(miner, client);
  const onnx = await OnnxLm.create(bytes, params);
  return { kind: "MLP", client, distribution: (ctx) => onnx.distribution(ctx), release: () => onnx.release() };
}
