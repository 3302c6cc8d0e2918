/**
 * A reader = a viem PublicClient + the deployment it reads. Every SDK function takes one; nothing here holds state
 * beyond that, so the same functions serve the dashboard, agents and tests.
 */
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import type { CerberusDeployment } from "../chain-artifacts/deployment.ts";
import { SdkError } from "./errors.ts";

export interface CerberusReader {
  client: PublicClient;
  deployment: CerberusDeployment;
}

export function createCerberusReader(client: PublicClient, deployment: CerberusDeployment): CerberusReader {
  return { client, deployment };
}

/** A reader over plain HTTP JSON-RPC (the dashboard's case). */
export function httpReader(rpcUrl: string, deployment: CerberusDeployment): CerberusReader {
  return { client: createPublicClient({ transport: http(rpcUrl), cacheTime: 0 }), deployment };
}

/** Multicalls go through viem's deployless Multicall3 (one eth_call, no contract needed on the chain). */
export const MULTICALL = { deployless: true, allowFailure: false } as const;

export function checkId(name: string, v: bigint | number, max?: bigint): bigint {
  const b = BigInt(v);
  if (b < 0n || (max !== undefined && b > max)) {
    throw new SdkError("SDK_BAD_INPUT", `${name} out of range: ${b}`);
  }
  return b;
}

export function checkAddress(v: string): Address {
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new SdkError("SDK_BAD_INPUT", `not an address: ${JSON.stringify(v)}`);
  return v as Address;
}
