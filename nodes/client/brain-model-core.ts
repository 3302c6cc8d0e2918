/**
 * The browser-safe half of brain-model.ts: a Brain's model assembled from its parts (however they were fetched) and
 * checked against the Brain's on-chain hashes. The CLI, agents and the dashboard's Generate page all go through
 * `assembleBrainModel`, so the browser checks exactly what the CLI checks.
 */
import { CerberusError } from "../core/errors.ts";
import { sha256Hex } from "../core/sha256.ts";
import { compilePlan, type PlanDescriptor, type PlanOptions } from "../fhe/plan.ts";
import { compileRoundPlan, type CompiledRoundPlan, type RoundPlanDescriptor, type RoundPlanOptions } from "../fhe/round-plan.ts";
import type { ClientModel } from "../model/client-model.ts";
import type { TransformerClient } from "../model/transformer-client.ts";

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
 * agree on parameters, rotation steps and rounds through chain state, not through the miner's word. Two model
 * families: the MLP (one encrypted step per word, a chain plan) and the transformer (several rounds per word, a round
 * plan, with the client applying softmax between rounds).
 */
interface BrainModelBase {
  readonly name: string;
  readonly onnxBytes: Uint8Array;
  /** 0x-prefixed sha256 of the ONNX bytes. */
  readonly modelHash: `0x${string}`;
  /** 0x-prefixed plan id (sha256 of model bytes + plan options). */
  readonly planHash: `0x${string}`;
}
export interface MlpBrainModel extends BrainModelBase {
  readonly kind: "mlp";
  readonly planOptions: PlanOptions;
  readonly descriptor: PlanDescriptor;
  readonly client: ClientModel;
}
export interface TxBrainModel extends BrainModelBase {
  readonly kind: "transformer";
  readonly planOptions: Partial<RoundPlanOptions>;
  readonly plan: CompiledRoundPlan;
  readonly descriptor: RoundPlanDescriptor;
  readonly client: TransformerClient;
}
export type BrainModel = MlpBrainModel | TxBrainModel;

export interface BrainModelParts {
  /** Base name of the files (for messages and BrainModel.name). */
  name: string;
  onnxBytes: Uint8Array;
  /** The client part, parsed (parseClientModel / parseTransformerClient from the bytes of <name>.client.json/.bin). */
  client: ClientModel | TransformerClient;
  /** Chain plan options (MLP) or round plan options (transformer, from <name>.plan.json). */
  planOptions?: PlanOptions | Partial<RoundPlanOptions>;
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
  const checkPlan = (planId: string) => {
    const planHash = `0x${planId}` as const;
    if (files.expectedPlanHash !== undefined && files.expectedPlanHash.toLowerCase() !== planHash) {
      throw new ModelHashMismatchError(`${onnxPath} (FHE plan)`, files.expectedPlanHash, planHash);
    }
    return planHash;
  };
  const { client } = files;
  if ("kind" in client && client.kind === "transformer") {
    const planOptions = (files.planOptions ?? {}) as Partial<RoundPlanOptions>;
    const plan = compileRoundPlan(onnxBytes, planOptions);
    const planHash = checkPlan(plan.descriptor.planId);
    const logits = plan.descriptor.rounds[plan.descriptor.rounds.length - 1]!.outputs[0]!;
    if (client.vocab.size > logits.dim) throw new CerberusError("MODEL_MISMATCH", `client vocabulary ${client.vocab.size} exceeds the model's ${logits.dim} outputs`);
    if (client.width !== plan.descriptor.width || client.window !== plan.descriptor.window) {
      throw new CerberusError("MODEL_MISMATCH", `client rows ${client.width} × ${client.window} ≠ model ${plan.descriptor.width} × ${plan.descriptor.window}`);
    }
    return { kind: "transformer", name, onnxBytes, modelHash, planHash, planOptions, plan, descriptor: plan.descriptor, client };
  }
  const mlp = client as ClientModel;
  const planOptions = (files.planOptions ?? {}) as PlanOptions;
  const { descriptor } = compilePlan(onnxBytes, planOptions);
  const planHash = checkPlan(descriptor.planId);
  if (mlp.vocab.size > descriptor.outputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client vocabulary ${mlp.vocab.size} exceeds the model's ${descriptor.outputDim} outputs`);
  }
  if ((mlp.n - 1) * mlp.embed !== descriptor.inputDim) {
    throw new CerberusError("MODEL_MISMATCH", `client context ${(mlp.n - 1) * mlp.embed} ≠ model input ${descriptor.inputDim}`);
  }
  return { kind: "mlp", name, onnxBytes, modelHash, planHash, planOptions, descriptor, client: mlp };
}

/** The model family a client file describes, from its `format` (without parsing the rest). */
export function clientFormatOf(json: string | Uint8Array): "mlp" | "transformer" {
  const text = typeof json === "string" ? json : new TextDecoder().decode(json);
  const m = /"format"\s*:\s*"([^"]+)"/.exec(text.slice(0, 200));
  return m?.[1] === "cerberus-tx-client/1" ? "transformer" : "mlp";
}

/** The model as an MLP model, for code paths only the MLP family has (a typed error otherwise). */
export function mlpModel(m: BrainModel): MlpBrainModel {
  if (m.kind !== "mlp") throw new CerberusError("MODEL_KIND", `${m.name} is a ${m.kind} model; this path serves MLP models only`);
  return m;
}
