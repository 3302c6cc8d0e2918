/**
 * The browser-safe half of brain-model.ts: a Brain's model assembled from its parts (however they were fetched) and
 * checked against the Brain's on-chain hashes. The CLI, agents and the dashboard's Generate page all go through
 * `assembleBrainModel`, so the browser checks exactly what the CLI checks.
 */
import { CerberusError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { compilePlan, type PlanDescriptor, type PlanOptions } from "../fhe/plan.ts";
import type { ClientModel } from "../model/client-model.ts";

/** A model file whose sha256 is not the one the Brain pins on-chain. */
export class ModelHashMismatchError extends CerberusError {
  constructor(file: string, expected: string, actual: string) {
    super("MODEL_HASH_MISMATCH", `${file}: sha256 ${actual} but the Brain pins ${expected}`);
  }
}

/**
 * Everything a party needs to take part in a Brain: the miner part (ONNX bytes, whose sha256 is the Brain's
 * `modelHash`), the client part (vocabulary, embeddings) and the compiled FHE plan's public descriptor. The plan id
 * (sha256 of model bytes + plan options) is what the Brain pins as `fheParamsHash`, so miners, users and validators
 * agree on parameters and rotation steps through chain state, not through the miner's word.
 */
export interface BrainModel {
  readonly name: string;
  readonly onnxBytes: Uint8Array;
  /** 0x-prefixed sha256 of the ONNX bytes. */
  readonly modelHash: `0x${string}`;
  /** 0x-prefixed plan id (sha256 of model bytes + plan options). */
  readonly planHash: `0x${string}`;
  readonly planOptions: PlanOptions;
  readonly descriptor: PlanDescriptor;
  readonly client: ClientModel;
}

export interface BrainModelParts {
  /** Base name of the files (for messages and BrainModel.name). */
  name: string;
  onnxBytes: Uint8Array;
  /** The client part, parsed (parseClientModel from the bytes of <name>.client.json / .client.bin). */
  client: ClientModel;
  planOptions?: PlanOptions;
  /** If given (from chain state), the ONNX bytes must hash to it. */
  expectedModelHash?: string;
  /** If given (from chain state), the compiled plan must have this id. */
  expectedPlanHash?: string;
}

export function assembleBrainModel(files: BrainModelParts): BrainModel {
  const { name, onnxBytes } = files;
  const onnxPath = `${name}.onnx`;
  const modelHash = `0x${sha256Hex(onnxBytes)}` as const;
  if (files.expectedModelHash !== undefined && files.expectedModelHash.toLowerCase() !== modelHash) {
    throw new ModelHashMismatchError(onnxPath, files.expectedModelHash, modelHash);
  }
  const planOptions = files.planOptions ?? {};
  const { descriptor } = compilePlan(onnxBytes, planOptions);
  const planHash = `0x${descriptor.planId}` as const;
  if (files.expectedPlanHash !== undefined && files.expectedPlanHash.toLowerCase() !== planHash) {
    throw new ModelHashMismatchError(`${onnxPath} (FHE plan)`, files.expectedPlanHash, planHash);
  }
  const { client } = files;
  if (client.vocab.size > descriptor.outputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client vocabulary ${client.vocab.size} exceeds the model's ${descriptor.outputDim} outputs`);
  }
  if ((client.n - 1) * client.embed !== descriptor.inputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client context ${(client.n - 1) * client.embed} ≠ model input ${descriptor.inputDim}`);
  }
  return { name, onnxBytes, modelHash, planHash, planOptions, descriptor, client };
}
