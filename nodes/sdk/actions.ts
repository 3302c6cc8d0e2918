/**
 * The dashboard's writes through an injected wallet (EIP-1193, window.ethereum): stake or delegate, claim, unstake,
 * withdraw. Framework-free: takes a viem WalletClient the caller built over the wallet's provider.
 */
import { BaseError, ContractFunctionRevertedError, type Address, type Hash, type PublicClient, type WalletClient } from "viem";
import { cerberusTokenAbi, consensusAbi, stakingAbi } from "../chain-artifacts/generated/abis.ts";
import { SdkError } from "./errors.ts";
import { checkAddress, type CerberusReader } from "./reader.ts";

export interface StakeResult {
  approveTx: Hash | null;
  stakeTx: Hash;
}

/**
 * Approves Staking for `amount` CBR when the allowance is short, then stakes on `hotkey` (own stake when hotkey is
 * the wallet's account, delegation otherwise — the contract checks the hotkey is a registered neuron).
 */
export async function stakeWithWallet(
  r: CerberusReader,
  wallet: WalletClient,
  hotkeyAddress: string,
  amount: bigint,
  opts: { waitForReceipts?: boolean } = {},
): Promise<StakeResult> {
  const hotkey = checkAddress(hotkeyAddress);
  if (amount <= 0n) throw new SdkError("SDK_BAD_INPUT", "amount must be > 0");
  const [account] = wallet.account ? [wallet.account.address] : await wallet.requestAddresses();
  if (!account) throw new SdkError("SDK_NO_WALLET", "the wallet exposes no account");
  const a = r.deployment.addresses;
  const pub: PublicClient = r.client;
  const allowance = await pub.readContract({
    address: a.token,
    abi: cerberusTokenAbi,
    functionName: "allowance",
    args: [account as Address, a.staking],
  });
  let approveTx: Hash | null = null;
  if (allowance < amount) {
    approveTx = await wallet.writeContract({
      account,
      chain: null,
      address: a.token,
      abi: cerberusTokenAbi,
      functionName: "approve",
      args: [a.staking, amount],
    });
    await pub.waitForTransactionReceipt({ hash: approveTx });
  }
  const stakeTx = await wallet.writeContract({
    account,
    chain: null,
    address: a.staking,
    abi: stakingAbi,
    functionName: "stake",
    args: [hotkey, amount],
  });
  if (opts.waitForReceipts !== false) {
    const receipt = await pub.waitForTransactionReceipt({ hash: stakeTx });
    if (receipt.status !== "success") throw new SdkError("SDK_BAD_INPUT", `stake transaction ${stakeTx} reverted`);
  }
  return { approveTx, stakeTx };
}

/** The staker's other writes, one transaction each (the dashboard's buttons; the CLI has the same commands). */
export type StakingAction =
  | { kind: "claimRewards"; hotkey: string }
  | { kind: "unstake"; hotkey: string; amount: bigint }
  | { kind: "withdraw" }
  | { kind: "claimCommission" }
  | { kind: "claimRemoved" };

/**
 * Sends one staking action through the wallet. It is simulated first, so a revert is an SdkError SDK_REVERTED naming
 * the contract's custom error (StillUnbonding, NothingToClaim, InsufficientStake, …) before the wallet is asked to sign.
 */
export async function sendWithWallet(r: CerberusReader, wallet: WalletClient, action: StakingAction): Promise<Hash> {
  const [account] = wallet.account ? [wallet.account.address] : await wallet.requestAddresses();
  if (!account) throw new SdkError("SDK_NO_WALLET", "the wallet exposes no account");
  const a = r.deployment.addresses;
  const call = (() => {
    switch (action.kind) {
      case "claimRewards":
        return { address: a.staking, abi: stakingAbi, functionName: "claimRewards", args: [checkAddress(action.hotkey)] } as const;
      case "unstake":
        if (action.amount <= 0n) throw new SdkError("SDK_BAD_INPUT", "amount must be > 0");
        return { address: a.staking, abi: stakingAbi, functionName: "unstake", args: [checkAddress(action.hotkey), action.amount] } as const;
      case "withdraw":
        return { address: a.staking, abi: stakingAbi, functionName: "withdraw", args: [] } as const;
      case "claimCommission":
        return { address: a.staking, abi: stakingAbi, functionName: "claimCommission", args: [] } as const;
      case "claimRemoved":
        return { address: a.consensus, abi: consensusAbi, functionName: "claimRemoved", args: [] } as const;
    }
  })();
  const pub: PublicClient = r.client;
  try {
    // One union-typed call: viem cannot narrow functionName/args across the union, so the request is built loosely.
    await pub.simulateContract({ ...call, account: account as Address } as unknown as Parameters<PublicClient["simulateContract"]>[0]);
  } catch (err) {
    throw reverted(action.kind, err);
  }
  const hash = await wallet.writeContract({ ...call, account, chain: null } as unknown as Parameters<WalletClient["writeContract"]>[0]);
  const receipt = await pub.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new SdkError("SDK_REVERTED", `${action.kind} transaction ${hash} reverted`);
  return hash;
}

function reverted(what: string, err: unknown): SdkError {
  const revert = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
  const errorName = revert instanceof ContractFunctionRevertedError ? revert.data?.errorName : undefined;
  const msg = err instanceof BaseError ? err.shortMessage : String(err);
  return new SdkError("SDK_REVERTED", `${what} would revert: ${errorName ?? msg}`, { cause: err, errorName });
}
