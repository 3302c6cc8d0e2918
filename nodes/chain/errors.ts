import {
  BaseError, HttpRequestError, LimitExceededRpcError, ResourceUnavailableRpcError, SocketClosedError, TimeoutError,
  TransactionReceiptNotFoundError, UnknownRpcError, WaitForTransactionReceiptTimeoutError, WebSocketRequestError,
} from "viem";
import { CerberusError } from "../core/errors.ts";
import { decodeRevert, type DecodedRevert } from "../chain-artifacts/reverts.ts";

/** A transaction or call reverted; `errorName` is the contract's custom error (or "Error"/"Panic"/"unknown"). */
export class ChainRevertError extends CerberusError {
  readonly errorName: string;
  readonly errorArgs: readonly unknown[];
  constructor(revert: DecodedRevert, readonly functionName: string, options?: { cause?: unknown }) {
    super("REVERTED", `${functionName} reverted with ${revert.errorName}(${describeArgs(revert)})`, options);
    this.errorName = revert.errorName;
    this.errorArgs = revert.args;
  }
}

const WEI_PER_CBR = 10n ** 18n;
/** Parameter names of the contracts' errors that carry token amounts (wei): shown in CBR. */
const AMOUNT_NAME = /amount|balance|allowance|needed|^need$|^have$|stake|staked|requested|locked|cap$|supply|fee|price|owed|reward/i;
/** …and names that carry something else even when they contain one of those words (a block, a count, an id). */
const NOT_AMOUNT_NAME = /block|epoch|uid|tokenId|brainId|count|bps|tempo|deadline|nonce|length|bits/i;

function formatCbr(wei: bigint): string {
  const frac = (wei % WEI_PER_CBR).toString().padStart(18, "0").replace(/0+$/, "");
  return `${wei / WEI_PER_CBR}${frac ? "." + frac : ""} CBR`;
}

/** `name: value` per argument, amounts in CBR, from the error's ABI entry when it is one of ours. */
function describeArgs({ args, inputs }: DecodedRevert): string {
  return args.map((value, i) => {
    const input = inputs?.[i];
    const name = input?.name ?? "";
    const shown = typeof value === "bigint" && input?.type === "uint256" && AMOUNT_NAME.test(name) && !NOT_AMOUNT_NAME.test(name)
      ? formatCbr(value) : String(value);
    return name !== "" ? `${name}: ${shown}` : shown;
  }).join(", ");
}

/** The RPC endpoint failed (after retries) for a reason other than a revert. */
export class ChainUnavailableError extends CerberusError {}

/**
 * The caller asked for something the chain cannot do for it — an account the node does not unlock, more CBR than
 * the account holds. Never retried: trying again cannot help.
 */
export class ChainCallerError extends CerberusError {}

const NETWORK_FAILURE = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|socket hang up|fetch failed|network|timed? ?out/i;

/**
 * Whether an RPC failure is worth retrying: the endpoint was unreachable, slow, overloaded or dropped the
 * connection, or a receipt was not there yet. A revert, a refusal of the request itself ("unknown account", bad
 * params) and every error Cerberus raised on purpose fail at once.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof CerberusError || !(err instanceof BaseError)) return false;
  if (asRevert(err, "") !== undefined) return false;
  const found = err.walk((e) =>
    (e instanceof HttpRequestError && (e.status === undefined || e.status === 429 || e.status >= 500)) ||
    e instanceof TimeoutError || e instanceof SocketClosedError || e instanceof WebSocketRequestError ||
    e instanceof LimitExceededRpcError || e instanceof ResourceUnavailableRpcError ||
    e instanceof WaitForTransactionReceiptTimeoutError || e instanceof TransactionReceiptNotFoundError ||
    // A custom transport (in-process providers, tests) reports a dropped connection as an unknown RPC error.
    (e instanceof UnknownRpcError && NETWORK_FAILURE.test(errorText(e.cause))));
  return found !== null && found !== undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.message} ${errorText(err.cause)}` : "";
}

/** A node refusing to sign for an account it does not hold (Hardhat, geth, anvil word it differently). */
export function isUnknownAccount(err: unknown): boolean {
  return /unknown account|account .*not (found|unlocked)|no (such )?account|authentication needed|sender account not recognized/i
    .test(errorText(err));
}

/** Turns whatever viem threw into a ChainRevertError if it is a revert; otherwise returns undefined. */
export function asRevert(err: unknown, functionName: string): ChainRevertError | undefined {
  const revert = decodeRevert(err);
  return revert === undefined ? undefined : new ChainRevertError(revert, functionName, { cause: err });
}
