import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type AbiParameter, type Hex } from "viem";
import {
  brainRegistryAbi, cerberusLensAbi, cerberusTokenAbi, consensusAbi, emissionAbi, neuronRegistryAbi, stakingAbi,
} from "./generated/abis.ts";

/**
 * Reading a revert out of whatever a provider threw: the contracts' custom errors by name, whichever way the provider
 * wrapped the revert data (viem's decoded error, raw data nested in an RPC error, Hardhat in-process, HTTP nodes).
 */
export interface DecodedRevert {
  /** The custom error's name, "Error"/"Panic", "unknown(0x…)" for an unknown selector, or "unknown" with no data. */
  errorName: string;
  args: readonly unknown[];
  /** The error's ABI parameters, when it is one of the contracts'. */
  inputs: readonly AbiParameter[] | undefined;
}

/** Every custom error of every contract: a revert bubbling up from a callee still decodes by name. */
const ALL_ERRORS: Abi = dedupe([
  cerberusTokenAbi, emissionAbi, brainRegistryAbi, stakingAbi, neuronRegistryAbi, consensusAbi, cerberusLensAbi,
].flatMap((abi) => (abi as Abi).filter((item) => item.type === "error")));

function dedupe(items: Abi): Abi {
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = JSON.stringify(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The revert inside `err`, or undefined if `err` is not a revert. */
export function decodeRevert(err: unknown): DecodedRevert | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    if (reverted.data?.errorName !== undefined) return withInputs(reverted.data.errorName, reverted.data.args ?? []);
    if (reverted.raw !== undefined) return decodeRaw(reverted.raw);
    return withInputs(reverted.reason ?? "unknown", []);
  }
  const withData = err.walk((e) => typeof (e as { data?: unknown }).data === "string" &&
    /^0x[0-9a-f]{8}/i.test((e as { data: string }).data));
  if (withData !== null && withData !== undefined) return decodeRaw((withData as unknown as { data: Hex }).data);
  if (/revert/i.test(err.message)) return withInputs("unknown", []);
  return undefined;
}

function withInputs(errorName: string, args: readonly unknown[]): DecodedRevert {
  const entry = ALL_ERRORS.find((e) => e.type === "error" && e.name === errorName && e.inputs.length === args.length) as
    { inputs: readonly AbiParameter[] } | undefined;
  return { errorName, args, inputs: entry?.inputs };
}

function decodeRaw(data: Hex): DecodedRevert {
  try {
    const decoded = decodeErrorResult({ abi: ALL_ERRORS, data });
    return withInputs(decoded.errorName, decoded.args ?? []);
  } catch {
    return withInputs(`unknown(${data.slice(0, 10)})`, []);
  }
}
