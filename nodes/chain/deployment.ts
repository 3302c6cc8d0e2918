import { readFileSync } from "node:fs";
import { z } from "zod";
import { CerberusError } from "../core/errors.ts";

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/).transform((a) => a as `0x${string}`);
const Entry = z.object({ address: Address, abiSha256: z.string().regex(/^[0-9a-f]{64}$/) });

/** deployments/<network>.json as scripts/deploy.ts writes it. */
export const DeploymentSchema = z.object({
  network: z.string().min(1),
  chainId: z.number().int().positive(),
  block: z.number().int().nonnegative(),
  deployer: Address,
  contracts: z.object({
    CerberusToken: Entry,
    Emission: Entry,
    BrainRegistry: Entry,
    Staking: Entry,
    NeuronRegistry: Entry,
    Consensus: Entry,
    CerberusLens: Entry,
  }),
});
export type DeploymentFile = z.infer<typeof DeploymentSchema>;

export class DeploymentError extends CerberusError {}

export function parseDeployment(value: unknown, source = "deployment"): DeploymentFile {
  const parsed = DeploymentSchema.safeParse(value);
  if (!parsed.success) throw new DeploymentError("BAD_DEPLOYMENT", `${source}: ${parsed.error.message}`);
  return parsed.data;
}

export function loadDeployment(path: string): DeploymentFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DeploymentError("NO_DEPLOYMENT", `cannot read ${path}: run the deploy script for this network first`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DeploymentError("BAD_DEPLOYMENT", `${path} is not JSON`, { cause: err });
  }
  return parseDeployment(json, path);
}
