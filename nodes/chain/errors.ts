import { BaseError, ContractFunctionRevertedError, decodeErrorResult, type Abi, type Hex } from "viem";
import { CerberusError } from "../core/errors.ts";
import {
  brainRegistryAbi, cerberusLensAbi, cerberusTokenAbi, consensusAbi, emissionAbi, neuronRegistryAbi, stakingAbi,
} from "../chain-artifacts/generated/abis.ts";

/** A transaction or call reverted; `errorName` is the contract's custom error (or "Error"/"Panic"/"unknown"). */
export class ChainRevertError extends CerberusError {
  constructor(
    readonly errorName: string,
    readonly errorArgs: readonly unknown[],
    readonly functionName: string,
    options?: { cause?: unknown },
  ) {
    super("REVERTED", `${functionName} reverted with ${errorName}(${errorArgs.map(String).join(", ")})`, options);
  }
}

/** The RPC endpoint failed (after retries) for a reason other than a revert. */
export class ChainUnavailableError extends CerberusError {}

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

/** Turns whatever viem threw into a ChainRevertError if it is a revert; otherwise returns undefined. */
export function asRevert(err: unknown, functionName: string): ChainRevertError | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    if (reverted.data?.errorName !== undefined) {
      return new ChainRevertError(reverted.data.errorName, reverted.data.args ?? [], functionName, { cause: err });
    }
    const raw = reverted.raw;
    if (raw !== undefined) return decodeRaw(raw, functionName, err);
    return new ChainRevertError(reverted.reason ?? "unknown", [], functionName, { cause: err });
  }
  const withData = err.walk((e) => typeof (e as { data?: unknown }).data === "string" &&
    /^0x[0-9a-f]{8}/i.test((e as { data: string }).data));
  if (withData !== null && withData !== undefined) return decodeRaw((withData as unknown as { data: Hex }).data, functionName, err);
  if (/revert/i.test(err.message)) return new ChainRevertError("unknown", [], functionName, { cause: err });
  return undefined;
}

function decodeRaw(data: Hex, functionName: string, cause: unknown): ChainRevertError {
  try {
    const decoded = decodeErrorResult({ abi: ALL_ERRORS, data });
    return new ChainRevertError(decoded.errorName, decoded.args ?? [], functionName, { cause });
  } catch {
    return new ChainRevertError(`unknown(${data.slice(0, 10)})`, [], functionName, { cause });
  }
}
