// Public surface of the FHE engine (miner side: MinerEvaluator/EvalSession; client side: FheClient).
export { MinerEvaluator, type EvalSession, type SessionKeys, type EvaluatorMemory } from "./evaluator.ts";
export { FheClient, type KeygenResult } from "./client.ts";
export { PlanDescriptorSchema, compilePlan, planIdOf, planIdFor, modelHashOf, ROTATION_MODES, type PlanDescriptor, type PlanOptions,
  type PlanSummary, type RotationMode } from "./plan.ts";
export { PARAM_SETS, getParamSet, selectParamSet, type ParamSet, type ParamSetName } from "./params.ts";
export { pruneDiagonals, diagonal, linearLayout, type LinearLayout } from "./diagonals.ts";
export * from "./errors.ts";
export { WorkerPoolEvaluator, type WorkerPoolOptions } from "./worker-pool.ts";
