/**
 * The deployments file written by scripts/deploy.ts (deployments/<network>.json): its zod schema and the addresses
 * it names. It comes from disk or over HTTP, so nothing in it is trusted until it parses; the SDK (browsers) and the
 * agents' chain client (disk) each parse it with their own typed error.
 */
import { z } from "zod";
import { getAddress, type Address } from "viem";

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

/** The addresses and scan start of a parsed deployments file: what every reader of the chain needs. */
export function deploymentOf(file: DeploymentFile): CerberusDeployment {
  const c = file.contracts;
  return {
    chainId: file.chainId,
    deployBlock: BigInt(file.block),
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
