import { CerberusError } from "../core/errors.ts";

/** Stable codes of the read SDK's errors (what callers and tests match on). */
export type SdkErrorCode =
  | "SDK_BAD_DEPLOYMENT" // the deployments JSON does not have the expected shape
  | "SDK_BAD_CHAIN_DATA" // the chain returned something the schemas reject (wrong contract at an address, …)
  | "SDK_UNKNOWN_BRAIN" // no Brain with that id
  | "SDK_BAD_INPUT" // a caller argument is out of range (negative id, bad address, bad page size, …)
  | "SDK_NO_WALLET" // a write was asked for without an injected wallet
  | "SDK_REVERTED"; // a write would revert (or did): `errorName` says which custom error

export class SdkError extends CerberusError {
  declare readonly code: SdkErrorCode;
  /** For SDK_REVERTED: the contract's custom error (e.g. "StillUnbonding"), when the revert data decodes. */
  readonly errorName: string | undefined;
  constructor(code: SdkErrorCode, message: string, options?: { cause?: unknown; errorName?: string }) {
    super(code, message, options);
    this.errorName = options?.errorName;
  }
}
