import { z } from "zod";
import { deploymentOf, deploymentSchema, type CerberusDeployment } from "../chain-artifacts/deployment.ts";
import { SdkError } from "./errors.ts";

/** Parses a deployments JSON value (already JSON.parse'd). Throws SdkError SDK_BAD_DEPLOYMENT with the zod issues. */
export function parseDeployment(json: unknown): CerberusDeployment {
  const r = deploymentSchema.safeParse(json);
  if (!r.success) {
    throw new SdkError("SDK_BAD_DEPLOYMENT", `deployments file rejected: ${z.prettifyError(r.error)}`);
  }
  return deploymentOf(r.data);
}
