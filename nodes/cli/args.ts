/** What every CLI command group shares: the chain flags, building a ChainClient from them, and argument parsers. */
import { InvalidArgumentError } from "commander";
import { http, isAddress, parseUnits, type Address, type Transport } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ChainClient } from "../chain/client.ts";
import { loadDeployment } from "../chain/deployment.ts";
import { CerberusError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";

export const CBR = 10n ** 18n;

export interface ChainFlags { rpc: string; deployment: string; account?: string; privateKey?: string }

/** The program's global flags, read when a command runs (commander parses them first). */
export type Globals = () => ChainFlags;

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";

export function chainFrom(flags: ChainFlags, needsAccount = true): ChainClient {
  // An empty flag or environment variable counts as unset.
  const rpc = flags.rpc !== "" ? flags.rpc : DEFAULT_RPC_URL;
  if (!/^(https?|wss?):\/\/\S+$/.test(rpc)) throw new CerberusError("BAD_FLAG", `--rpc ${rpc} is not an http(s) or ws(s) URL`);
  const transport: Transport = http(rpc, { retryCount: 3 });
  let account: Address | ReturnType<typeof privateKeyToAccount> | undefined;
  if (flags.privateKey) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(flags.privateKey)) throw new CerberusError("BAD_FLAG", "--private-key must be 0x + 64 hex digits");
    account = privateKeyToAccount(flags.privateKey as `0x${string}`);
  } else if (flags.account) {
    if (!isAddress(flags.account)) throw new CerberusError("BAD_FLAG", `--account ${flags.account} is not an address`);
    account = flags.account;
  } else if (needsAccount) {
    throw new CerberusError("BAD_FLAG", "this command sends transactions: give --account or --private-key (or the env vars)");
  }
  return new ChainClient({ transport, deployment: loadDeployment(flags.deployment || "deployments/localhost.json"), logger: createLogger("chain"),
    ...(account !== undefined ? { account } : {}) });
}

export const bigintArg = (v: string) => { if (!/^\d+$/.test(v)) throw new InvalidArgumentError("a whole number"); return BigInt(v); };
export const intArg = (v: string) => { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("a non-negative integer"); return n; };
export const positiveIntArg = (v: string) => { const n = Number(v); if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a whole number of at least 1"); return n; };
export const floatArg = (v: string) => { const n = Number(v); if (!Number.isFinite(n)) throw new InvalidArgumentError("a number"); return n; };

/** A CBR amount as typed: digits with at most 18 decimals — never a sign, exponent or silent rounding. */
function parseCbr(v: string, allowZero: boolean): bigint {
  const t = v.trim();
  if (t.startsWith("-")) throw new InvalidArgumentError("an amount of CBR must not be negative");
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) throw new InvalidArgumentError("an amount of CBR, e.g. 12.5");
  if ((m[2] ?? "").length > 18) throw new InvalidArgumentError("an amount of CBR has at most 18 decimals (1 wei = 0.000000000000000001)");
  const wei = parseUnits(t, 18);
  if (wei === 0n && !allowZero) throw new InvalidArgumentError("an amount of CBR must be more than zero");
  return wei;
}
/** An amount to send, stake or unstake: > 0. */
export const cbrArg = (v: string) => parseCbr(v, false);
/** A limit such as a minimum stake: ≥ 0. */
export const cbrLimitArg = (v: string) => parseCbr(v, true);
/** A take in percent (0–20, at most two decimals) as basis points. */
export const takeArg = (v: string) => {
  if (!/^\d+(\.\d{1,2})?$/.test(v.trim())) throw new InvalidArgumentError("a take in percent, e.g. 9 or 12.5");
  const bps = Math.round(Number(v) * 100);
  if (bps > 2_000) throw new InvalidArgumentError("a take of at most 20%");
  return bps;
};
export const minerSeatArg = (v: string) => {
  const m = /^(\d+):(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError("a miner seat as brainId:uid, e.g. 1:0");
  return { brainId: BigInt(m[1]!), uid: intArg(m[2]!) };
};
export const addressArg = (v: string) => { if (!isAddress(v)) throw new InvalidArgumentError("an 0x address"); return v as Address; };

/** CBR as a decimal string with all 18 decimals' significance kept (trailing zeros dropped). */
export function formatCbr(wei: bigint): string {
  const sign = wei < 0n ? "-" : "";
  const a = wei < 0n ? -wei : wei;
  const frac = (a % CBR).toString().padStart(18, "0").replace(/0+$/, "");
  return `${sign}${a / CBR}${frac ? "." + frac : ""}`;
}

export function jsonBig(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
