import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CerberusError } from "../core/errors.ts";
import { compilePlan, type PlanDescriptor, type PlanOptions } from "../fhe/index.ts";
import { loadClientModel, sha256Hex, type ClientModel } from "../model/lm.ts";

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

export interface LoadBrainModelOptions {
  /** Folder with <name>.onnx and <name>.client.json (default "models"). */
  dir?: string;
  /** Base name of the files (default "brown-lm"). */
  name?: string;
  planOptions?: PlanOptions;
  /** If given (from chain state), the ONNX file must hash to it. */
  expectedModelHash?: string;
  /** If given (from chain state), the compiled plan must have this id. */
  expectedPlanHash?: string;
}

export function loadBrainModel(options: LoadBrainModelOptions = {}): BrainModel {
  const dir = options.dir ?? "models";
  const name = options.name ?? "brown-lm";
  const onnxPath = join(dir, `${name}.onnx`);
  const onnxBytes = new Uint8Array(readFileSync(onnxPath));
  const modelHash = `0x${sha256Hex(onnxBytes)}` as const;
  if (options.expectedModelHash !== undefined && options.expectedModelHash.toLowerCase() !== modelHash) {
    throw new ModelHashMismatchError(onnxPath, options.expectedModelHash, modelHash);
  }
  const planOptions = options.planOptions ?? {};
  const { descriptor } = compilePlan(onnxBytes, planOptions);
  const planHash = `0x${descriptor.planId}` as const;
  if (options.expectedPlanHash !== undefined && options.expectedPlanHash.toLowerCase() !== planHash) {
    throw new ModelHashMismatchError(`${onnxPath} (FHE plan)`, options.expectedPlanHash, planHash);
  }
  const client = loadClientModel(join(dir, `${name}.client.json`));
  if (client.vocab.size > descriptor.outputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client vocabulary ${client.vocab.size} exceeds the model's ${descriptor.outputDim} outputs`);
  }
  if ((client.n - 1) * client.embed !== descriptor.inputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client context ${(client.n - 1) * client.embed} ≠ model input ${descriptor.inputDim}`);
  }
  return { name, onnxBytes, modelHash, planHash, planOptions, descriptor, client };
}

/** The model a Brain pins on-chain: read from `files` and checked against both of the Brain's hashes. */
export function loadPinnedModel(brain: { modelHash: string; fheParamsHash: string },
  files: { dir?: string | undefined; name?: string | undefined } = {}): BrainModel {
  return loadBrainModel({
    ...(files.dir !== undefined ? { dir: files.dir } : {}),
    ...(files.name !== undefined ? { name: files.name } : {}),
    expectedModelHash: brain.modelHash, expectedPlanHash: brain.fheParamsHash,
  });
}
