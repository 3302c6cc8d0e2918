/**
 * The one write the dashboard makes: stake or delegate through an injected wallet (EIP-1193, window.ethereum).
 * Framework-free: takes a viem WalletClient the caller built over the wallet's provider.
 */
import type { Address, Hash, PublicClient, WalletClient } from "viem";
import { cerberusTokenAbi, stakingAbi } from "../chain/abis.ts";
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
