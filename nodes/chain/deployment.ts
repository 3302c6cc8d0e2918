import { readFileSync } from "node:fs";
import type { z } from "zod";
import { CerberusError } from "../core/errors.ts";
import { deploymentSchema } from "../sdk/deployment.ts";

/**
 * deployments/<network>.json as scripts/deploy.ts writes it. The schema lives in the SDK (it also runs in
 * browsers); this module adds reading it from disk for the agents and CLIs.
 */
export type DeploymentFile = z.infer<typeof deploymentSchema>;

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
