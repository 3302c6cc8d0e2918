/**
 * The dashboard's writes through an injected wallet (EIP-1193, window.ethereum): stake or delegate, claim, unstake,
 * withdraw. Framework-free: takes a viem WalletClient the caller built over the wallet's provider.
 */
import { BaseError, type Address, type Hash, type PublicClient, type WalletClient } from "viem";
import { cerberusTokenAbi, consensusAbi, stakingAbi } from "../chain-artifacts/generated/abis.ts";
import { decodeRevert } from "../chain-artifacts/reverts.ts";
import { SdkError } from "./errors.ts";
import { checkAddress, type CerberusReader } from "./reader.ts";

export interface StakeResult {
  approveTx: Hash | null;
  stakeTx: Hash;
}

/**
 * The moves of a call that spends the caller's CBR through an allowance (a stake, a Brain's fee), as one caller (the
 * dashboard's wallet, an agent) makes them.
 */
export interface AllowanceMoves<T> {
  balance(): Promise<bigint>;
  allowance(): Promise<bigint>;
  /** Runs the call as an eth_call; throws what the chain would say. */
  simulate(): Promise<void>;
  /** Whether an error of `simulate` is only the token refusing for want of allowance (ERC20InsufficientAllowance). */
  isShortAllowance(err: unknown): boolean;
  approve(amount: bigint): Promise<void>;
  call(): Promise<T>;
}

/**
 * Makes a call that spends `amount` CBR through an allowance so that a call that cannot go through leaves no approval
 * behind. The balance is checked first; the call is simulated before anything is approved, and the simulation may
 * fail only for want of allowance; the approval is for exactly `amount`; and if the call still fails once approved
 * (the chain moved in between), the allowance is put back as it was. `what` names the call in errors.
 */
export async function withExactApproval<T>(what: string, amount: bigint, moves: AllowanceMoves<T>): Promise<{ result: T; approved: boolean }> {
  const balance = await moves.balance();
  if (balance < amount) {
    throw new SdkError("SDK_BAD_INPUT", `${what} needs ${formatWei(amount)} CBR: the account holds ${formatWei(balance)} CBR`);
  }
  const before = await moves.allowance();
  if (before >= amount) return { result: await moves.call(), approved: false };
  try {
    await moves.simulate();
  } catch (err) {
    if (!moves.isShortAllowance(err)) throw err;
  }
  await moves.approve(amount);
  try {
    return { result: await moves.call(), approved: true };
  } catch (err) {
    await moves.approve(before).catch(() => undefined); // best effort: the call's own error is the one to report
    throw err;
  }
}

function formatWei(wei: bigint): string {
  const one = 10n ** 18n;
  const frac = (wei % one).toString().padStart(18, "0").replace(/0+$/, "");
  return `${wei / one}${frac ? "." + frac : ""}`;
}

/**
 * Stakes `amount` CBR on `hotkey` through the wallet (own stake when hotkey is the wallet's account, delegation
 * otherwise — the contract checks the hotkey is a registered neuron), approving Staking for exactly `amount` when the
 * allowance is short — and only once the stake is known to go through (`withExactApproval`).
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
  const stakeCall = { address: a.staking, abi: stakingAbi, functionName: "stake", args: [hotkey, amount] } as const;
  let approveTx: Hash | null = null;
  const { result: stakeTx } = await withExactApproval("stake", amount, {
    balance: () => pub.readContract({ address: a.token, abi: cerberusTokenAbi, functionName: "balanceOf", args: [account as Address] }),
    allowance: () => pub.readContract({ address: a.token, abi: cerberusTokenAbi, functionName: "allowance", args: [account as Address, a.staking] }),
    simulate: async () => {
      try {
        await pub.simulateContract({ ...stakeCall, account: account as Address });
      } catch (err) {
        throw reverted("stake", err);
      }
    },
    isShortAllowance: (err) => err instanceof SdkError && err.errorName === "ERC20InsufficientAllowance",
    approve: async (value) => {
      const hash = await wallet.writeContract({ account, chain: null, address: a.token, abi: cerberusTokenAbi,
        functionName: "approve", args: [a.staking, value] });
      approveTx ??= hash;
      await pub.waitForTransactionReceipt({ hash });
    },
    call: async () => {
      const hash = await wallet.writeContract({ ...stakeCall, account, chain: null });
      if (opts.waitForReceipts !== false) {
        const receipt = await pub.waitForTransactionReceipt({ hash });
        if (receipt.status !== "success") throw new SdkError("SDK_REVERTED", `stake transaction ${hash} reverted`);
      }
      return hash;
    },
  });
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
  const errorName = decodeRevert(err)?.errorName;
  const msg = err instanceof BaseError ? err.shortMessage : String(err);
  return new SdkError("SDK_REVERTED", `${what} would revert: ${errorName ?? msg}`, { cause: err, errorName });
}
