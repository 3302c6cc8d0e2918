import { existsSync, readdirSync, readFileSync } from "node:fs";
import { sha256Hex } from "../core/sha256.ts";
import { basename, dirname, join } from "node:path";
import { loadClientModel, loadLmMixture } from "../model/lm.ts";
import { parseTransformerClient } from "../model/transformer-client.ts";
import { RoundPlanOptionsSchema } from "../fhe/round-plan.ts";
import { CerberusError } from "../core/errors.ts";
import type { LmMixture } from "../model/mixture.ts";
import type { PlanOptions } from "../fhe/plan.ts";
import { assembleBrainModel, clientFormatOf, type BrainModel } from "./brain-model-core.ts";

export { assembleBrainModel, ModelHashMismatchError, type BrainModel, type BrainModelParts, type MlpBrainModel, type TxBrainModel, mlpModel } from "./brain-model-core.ts";

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
  const clientPath = join(dir, `${name}.client.json`);
  const transformer = clientFormatOf(readFileSync(clientPath)) === "transformer";
  return assembleBrainModel({
    name,
    onnxBytes: new Uint8Array(readFileSync(join(dir, `${name}.onnx`))),
    client: transformer ? loadTransformerClient(clientPath) : loadClientModel(clientPath),
    ...(transformer ? { planOptions: loadRoundPlanOptions(join(dir, `${name}.plan.json`)) }
      : options.planOptions !== undefined ? { planOptions: options.planOptions } : {}),
    ...(options.expectedModelHash !== undefined ? { expectedModelHash: options.expectedModelHash } : {}),
    ...(options.expectedPlanHash !== undefined ? { expectedPlanHash: options.expectedPlanHash } : {}),
  });
}

/**
 * The model a Brain pins on-chain: read from `files` and checked against both of the Brain's hashes. Without a name,
 * the folder's model whose ONNX hashes to the Brain's `modelHash` (so `generate --brain N` finds the MLP's or the
 * transformer's files by themselves).
 */
export function loadPinnedModel(brain: { modelHash: string; fheParamsHash: string },
  files: { dir?: string | undefined; name?: string | undefined } = {}): BrainModel {
  const name = files.name ?? findModelByHash(files.dir ?? "models", brain.modelHash);
  return loadBrainModel({
    ...(files.dir !== undefined ? { dir: files.dir } : {}),
    ...(name !== undefined ? { name } : {}),
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

function loadTransformerClient(jsonPath: string) {
  const json = readFileSync(jsonPath);
  const file = (JSON.parse(json.toString("utf8")) as { tensors?: { file?: unknown } }).tensors?.file;
  if (typeof file !== "string" || basename(file) !== file) throw new CerberusError("CLIENT_MODEL_INVALID", `${jsonPath}: tensors.file must be a bare file name`);
  return parseTransformerClient(json, new Uint8Array(readFileSync(join(dirname(jsonPath), file))), jsonPath);
}

/**
 * A transformer Brain's round plan options, shipped as <name>.plan.json ({ format: "cerberus-round-plan/1", options,
 * why }): which parameter set and refresh cuts the Brain's plan id pins (the trade-off is measured by bench:fhe-tx).
 */
export function loadRoundPlanOptions(path: string) {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, "utf8")); } catch (e) {
    throw new CerberusError("PLAN_OPTIONS_INVALID", `cannot read ${path}: ${(e as Error).message}`);
  }
  const r = RoundPlanOptionsSchema.safeParse((raw as { options?: unknown } | null)?.options);
  if (!r.success || (raw as { format?: unknown }).format !== "cerberus-round-plan/1") {
    throw new CerberusError("PLAN_OPTIONS_INVALID", `${path}: not a cerberus-round-plan/1 file`);
  }
  return r.data;
}

/** Base name of the model in `dir` whose <name>.onnx hashes to `modelHash` (0x-prefixed or not), if any. */
export function findModelByHash(dir: string, modelHash: string): string | undefined {
  const want = modelHash.toLowerCase().replace(/^0x/, "");
  if (!existsSync(dir)) return undefined;
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".onnx") || !existsSync(join(dir, f.replace(/\.onnx$/, ".client.json")))) continue;
    if (sha256Hex(new Uint8Array(readFileSync(join(dir, f)))) === want) return f.replace(/\.onnx$/, "");
  }
  return undefined;
}
