import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadClientModel, loadLmMixture } from "../model/lm.ts";
import type { LmMixture } from "../model/mixture.ts";
import type { PlanOptions } from "../fhe/plan.ts";
import { assembleBrainModel, type BrainModel } from "./brain-model-core.ts";

export { assembleBrainModel, ModelHashMismatchError, type BrainModel, type BrainModelParts } from "./brain-model-core.ts";

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
  return assembleBrainModel({
    name,
    onnxBytes: new Uint8Array(readFileSync(join(dir, `${name}.onnx`))),
    client: loadClientModel(join(dir, `${name}.client.json`)),
    ...(options.planOptions !== undefined ? { planOptions: options.planOptions } : {}),
    ...(options.expectedModelHash !== undefined ? { expectedModelHash: options.expectedModelHash } : {}),
    ...(options.expectedPlanHash !== undefined ? { expectedPlanHash: options.expectedPlanHash } : {}),
  });
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

/**
 * The client mixture shipped next to the model (<dir>/<name>.mixture.json, see nodes/model/mixture.ts), built for
 * this model's vocabulary; undefined when the folder has none (then generate samples from the MLP alone).
 */
export function loadClientMixture(model: BrainModel, options: { dir?: string | undefined } = {}): { mixture: LmMixture; loadMs: number } | undefined {
  const path = join(options.dir ?? "models", `${model.name}.mixture.json`);
  if (!existsSync(path)) return undefined;
  const t0 = performance.now();
  const mixture = loadLmMixture(path, model.client);
  return { mixture, loadMs: performance.now() - t0 };
}
