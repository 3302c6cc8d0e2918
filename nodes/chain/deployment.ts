import { readFileSync } from "node:fs";
import { CerberusError } from "../core/errors.ts";
import { deploymentSchema, type DeploymentFile } from "../chain-artifacts/deployment.ts";

/** Reading deployments/<network>.json from disk for the agents and CLIs (the schema is in chain-artifacts). */
export type { DeploymentFile };

export class DeploymentError extends CerberusError {}

export function parseDeployment(value: unknown, source = "deployment"): DeploymentFile {
  const parsed = deploymentSchema.safeParse(value);
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
