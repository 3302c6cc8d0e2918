/**
 * Cerberus read SDK: typed, framework-free reads of the contracts for dApps, the dashboard and agents (viem).
 * Every function takes a CerberusReader (a PublicClient + the deployment). See README "## Dashboard" for the API.
 */
export * from "./types.ts";
export { SdkError, type SdkErrorCode } from "./errors.ts";
export { parseDeployment } from "./deployment.ts";
export { deploymentSchema, type CerberusDeployment, type CerberusAddresses } from "../chain-artifacts/deployment.ts";
export { createCerberusReader, httpReader, type CerberusReader } from "./reader.ts";
export { brainCount, listBrains, getBrain } from "./brains.ts";
export {
  epochAt,
  epochWindows,
  getEpochState,
  getValidatorActivity,
  getIncentiveHistory,
  getEmissionSchedule,
} from "./epochs.ts";
export { getEventsPage, pageEvents, recentEvents, DEFAULT_PAGE_BLOCKS, type FeedFilter, type PagingOptions } from "./events.ts";
export { getStakerView, stakedHotkeys, secondsPerBlock } from "./staker.ts";
export { stakeWithWallet, sendWithWallet, withExactApproval, type AllowanceMoves, type StakeResult, type StakingAction } from "./actions.ts";
export { SHARE_ONE } from "./schemas.ts";
export * as abis from "../chain-artifacts/generated/abis.ts";
