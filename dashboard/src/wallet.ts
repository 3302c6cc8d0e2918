/** Injected wallet (EIP-1193 `window.ethereum`), when the browser has one. */
import { createWalletClient, custom, type EIP1193Provider, type WalletClient } from "viem";

declare global {
  interface Window {
    ethereum?: EIP1193Provider;
  }
}

export function injectedWallet(): WalletClient | null {
  return window.ethereum ? createWalletClient({ transport: custom(window.ethereum) }) : null;
}
