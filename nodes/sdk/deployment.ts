/**
 * The deployments file written by scripts/deploy.ts (deployments/<network>.json), validated with zod: it comes from
 * disk or over HTTP, so nothing in it is trusted until it parses.
 */
import { z } from "zod";
import { getAddress, type Address } from "viem";
import { SdkError } from "./errors.ts";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "not a 20-byte hex address")
  .transform((a) => getAddress(a));
// `abi` (the published ABI, abi/<Contract>.json) is in files written by the deploy script for outside clients;
// the SDK itself uses its generated ABIs and ignores it.
const entry = z.object({ address, abiSha256: z.string().optional(), abi: z.array(z.record(z.string(), z.unknown())).optional() });

export const deploymentSchema = z.object({
  network: z.string(),
  chainId: z.number().int().positive(),
  block: z.number().int().nonnegative(),
  deployer: address,
  contracts: z.object({
    CerberusToken: entry,
    Emission: entry,
    BrainRegistry: entry,
    Staking: entry,
    NeuronRegistry: entry,
    Consensus: entry,
    CerberusLens: entry,
  }),
});
export type DeploymentFile = z.infer<typeof deploymentSchema>;

/** The contract addresses the SDK reads, plus where to start scanning for events. */
export interface CerberusAddresses {
  token: Address;
  emission: Address;
  brainRegistry: Address;
  staking: Address;
  neuronRegistry: Address;
  consensus: Address;
  lens: Address;
}

export interface CerberusDeployment {
  chainId: number;
  /** Block of the deployment: event scans start here. */
  deployBlock: bigint;
  addresses: CerberusAddresses;
}

/** Parses a deployments JSON value (already JSON.parse'd). Throws SdkError SDK_BAD_DEPLOYMENT with the zod issues. */
export function parseDeployment(json: unknown): CerberusDeployment {
  const r = deploymentSchema.safeParse(json);
  if (!r.success) {
    throw new SdkError("SDK_BAD_DEPLOYMENT", `deployments file rejected: ${z.prettifyError(r.error)}`);
  }
  const c = r.data.contracts;
  return {
    chainId: r.data.chainId,
    deployBlock: BigInt(r.data.block),
    addresses: {
      token: c.CerberusToken.address,
      emission: c.Emission.address,
      brainRegistry: c.BrainRegistry.address,
      staking: c.Staking.address,
      neuronRegistry: c.NeuronRegistry.address,
      consensus: c.Consensus.address,
      lens: c.CerberusLens.address,
    },
  };
}
