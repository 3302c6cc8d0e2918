import type { ClientModel } from "../model/client-model.ts";
import type { MinerModel } from "../model/miner-model.ts";
import type { Activation, MlpParams } from "./mlp.ts";

/**
 * The shipped MLP as training-engine parameters, from the committed artifacts: embeddings from <name>.client.*, the
 * layers from <name>.onnx with the padded vocabulary cut back to V (the engine's softmax runs over V words).
 */
export function mlpFromArtifacts(miner: MinerModel, client: ClientModel): { params: MlpParams; act: Activation } {
  const V = miner.vocab;
  const W2 = new Float32Array(miner.hidden * V), b2 = miner.b2.slice(0, V);
  for (let k = 0; k < miner.hidden; k++) W2.set(miner.W2.subarray(k * miner.vPad, k * miner.vPad + V), k * V);
  return {
    params: { shape: { vocab: V, n: client.n, embed: client.embed, hidden: miner.hidden }, C: client.embeddings, W1: miner.W1, b1: miner.b1, W2, b2 },
    act: { kind: "poly", c: miner.c },
  };
}
