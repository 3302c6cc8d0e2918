/**
 * Epoch state (commit/reveal windows, settlement progress), validator commit/reveal activity, per-epoch incentive
 * history and the emission schedule. Window arithmetic mirrors Consensus.windows (documented there): epoch e covers
 * [g + e·t, g + (e+1)·t); reveals for e run during the first ⌊t/2⌋ blocks of e+1; settlement from then on.
 */
import { getAbiItem, type Address } from "viem";
import { brainRegistryAbi, cerberusTokenAbi, consensusAbi, emissionAbi } from "../chain-artifacts/generated/abis.ts";
import { SdkError } from "./errors.ts";
import { recentEvents } from "./events.ts";
import { throwIfUnknownBrain } from "./brains.ts";
import { MULTICALL, checkId, type CerberusReader } from "./reader.ts";
import { parseChain, sharesSchema, SHARE_ONE } from "./schemas.ts";
import type { EmissionSchedule, EpochScores, EpochState, EpochWindows, ValidatorActivity } from "./types.ts";

export function epochWindows(genesisBlock: bigint, tempo: number, epoch: bigint): EpochWindows {
  const t = BigInt(tempo);
  const commitFrom = genesisBlock + epoch * t;
  const revealFrom = commitFrom + t;
  return { epoch, commitFrom, revealFrom, revealTo: revealFrom + t / 2n };
}

export function epochAt(genesisBlock: bigint, tempo: number, block: bigint): bigint {
  return block <= genesisBlock ? 0n : (block - genesisBlock) / BigInt(tempo);
}

const PHASES = ["idle", "ranking", "paying"] as const;

/** Where a Brain is in its epoch cycle: 1 eth_blockNumber (skipped when `head` is given) + 1 multicall. */
export async function getEpochState(
  r: CerberusReader,
  brainId: bigint | number,
  opts: { head?: bigint } = {},
): Promise<EpochState> {
  const id = checkId("brainId", brainId);
  const head = opts.head ?? (await r.client.getBlockNumber());
  const a = r.deployment.addresses;
  let res;
  try {
    res = await r.client.multicall({
      ...MULTICALL,
      blockNumber: head,
      contracts: [
        { address: a.brainRegistry, abi: brainRegistryAbi, functionName: "timing", args: [id] },
        { address: a.consensus, abi: consensusAbi, functionName: "settlementState", args: [id] },
        { address: a.emission, abi: emissionAbi, functionName: "pendingEmission", args: [id] },
      ] as const,
    });
  } catch (err) {
    await throwIfUnknownBrain(r, id, err);
    throw err;
  }
  const [[genesis, tempo], [s, lastSettledBlock], pendingEmission] = res;
  if (tempo === 0) throw new SdkError("SDK_BAD_CHAIN_DATA", `Brain ${id} has tempo 0`);
  const phase = PHASES[s.phase];
  if (phase === undefined) throw new SdkError("SDK_BAD_CHAIN_DATA", `unknown settlement phase ${s.phase}`);
  const currentEpoch = epochAt(genesis, tempo, head);
  const previous = currentEpoch === 0n ? null : epochWindows(genesis, tempo, currentEpoch - 1n);
  return {
    brainId: id,
    head,
    currentEpoch,
    current: epochWindows(genesis, tempo, currentEpoch),
    previous,
    revealOpen: previous !== null && head >= previous.revealFrom && head < previous.revealTo,
    settlement: {
      epoch: s.epoch,
      phase,
      cursor: s.cursor,
      settledAny: s.settledAny,
      lastSettledBlock,
    },
    pendingEmission,
  };
}

const commitEvents = [
  getAbiItem({ abi: consensusAbi, name: "WeightsCommitted" }),
  getAbiItem({ abi: consensusAbi, name: "WeightsRevealed" }),
] as const;

/**
 * Commit/reveal status of each validator for the current and previous epoch: one eth_getLogs over the two epochs'
 * blocks (≤ 2·tempo + 1 blocks, so no paging needed).
 */
export async function getValidatorActivity(
  r: CerberusReader,
  brainId: bigint,
  state: Pick<EpochState, "head" | "currentEpoch" | "current" | "previous">,
  validators: readonly { uid: number; hotkey: Address }[],
): Promise<ValidatorActivity[]> {
  const fromBlock = (state.previous ?? state.current).commitFrom;
  const logs = await r.client.getLogs({
    address: r.deployment.addresses.consensus,
    events: commitEvents,
    fromBlock,
    toBlock: state.head,
    strict: true,
  });
  const key = (uid: number, epoch: bigint) => `${uid}:${epoch}`;
  const committed = new Set<string>();
  const revealed = new Set<string>();
  for (const log of logs) {
    const args = log.args as { brainId: bigint; epoch: bigint; uid: number };
    if (args.brainId !== brainId) continue;
    (log.eventName === "WeightsCommitted" ? committed : revealed).add(key(args.uid, args.epoch));
  }
  const prev = state.currentEpoch - 1n;
  return validators.map((v) => ({
    uid: v.uid,
    hotkey: v.hotkey,
    committedCurrent: committed.has(key(v.uid, state.currentEpoch)),
    committedPrevious: state.previous !== null && committed.has(key(v.uid, prev)),
    revealedPrevious: state.previous !== null && revealed.has(key(v.uid, prev)),
  }));
}

/**
 * Incentives and dividends after each of the last `epochs` settlements of a Brain, oldest first. The contracts keep
 * only the latest scores, so each past epoch is one multicall at its EpochSettled block (needs a node that serves
 * historical state — Hardhat does; a pruned full node only for recent blocks). RPC cost: ⌈range/pageSize⌉ getLogs +
 * `epochs` eth_calls. Bound the scan with `toBlock` = the Brain's last settlement block (BrainDetail.lastUpdate) and
 * `fromBlock` ≈ toBlock − (epochs + 1)·tempo when settlements are regular (what the dashboard does).
 */
export async function getIncentiveHistory(
  r: CerberusReader,
  brainId: bigint | number,
  opts: { epochs?: number; head?: bigint; fromBlock?: bigint; toBlock?: bigint; pageSize?: bigint; maxPages?: number } = {},
): Promise<EpochScores[]> {
  const id = checkId("brainId", brainId);
  const epochs = opts.epochs ?? 3;
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 32) {
    throw new SdkError("SDK_BAD_INPUT", `epochs must be 1..32, got ${epochs}`);
  }
  const settled = await recentEvents(r, "settlements", {
    brainId: id,
    limit: epochs,
    fromBlock: opts.fromBlock,
    toBlock: opts.toBlock ?? opts.head,
    pageSize: opts.pageSize,
    maxPages: opts.maxPages,
  });
  const a = r.deployment.addresses;
  const rows = await Promise.all(
    settled.map(async (e): Promise<EpochScores> => {
      if (e.kind !== "EpochSettled") throw new SdkError("SDK_BAD_CHAIN_DATA", `unexpected ${e.kind}`);
      const [inc, div] = await r.client.multicall({
        ...MULTICALL,
        blockNumber: e.blockNumber,
        contracts: [
          { address: a.consensus, abi: consensusAbi, functionName: "minerIncentives", args: [id] },
          { address: a.consensus, abi: consensusAbi, functionName: "validatorDividends", args: [id] },
        ] as const,
      });
      return {
        epoch: e.epoch,
        settledAtBlock: e.blockNumber,
        emission: e.emission,
        minerPaid: e.minerPaid,
        validatorPaid: e.validatorPaid,
        ownerPaid: e.ownerPaid,
        incentives: parseChain(sharesSchema(256), [...(inc as readonly number[])], "minerIncentives").map((x) => x / SHARE_ONE),
        dividends: parseChain(sharesSchema(32), [...(div as readonly number[])], "validatorDividends").map((x) => x / SHARE_ONE),
      };
    }),
  );
  return rows.reverse();
}

/** The block-based emission schedule (halvings, cap, split): 1 eth_blockNumber + 1 multicall. */
export async function getEmissionSchedule(r: CerberusReader, opts: { head?: bigint } = {}): Promise<EmissionSchedule> {
  const head = opts.head ?? (await r.client.getBlockNumber());
  const e = { address: r.deployment.addresses.emission, abi: emissionAbi } as const;
  const [genesisBlock, initialReward, halvingInterval, rewardPerBlock, emissionCap, totalMinted, activeBrains, ownerBps, minerBps, validatorBps, tokenSupply, brainPrice] =
    await r.client.multicall({
      ...MULTICALL,
      blockNumber: head,
      contracts: [
        { ...e, functionName: "genesisBlock" },
        { ...e, functionName: "initialReward" },
        { ...e, functionName: "halvingInterval" },
        { ...e, functionName: "rewardAt", args: [head] },
        { ...e, functionName: "emissionCap" },
        { ...e, functionName: "totalMinted" },
        { ...e, functionName: "activeBrains" },
        { ...e, functionName: "ownerBps" },
        { ...e, functionName: "minerBps" },
        { ...e, functionName: "validatorBps" },
        { address: r.deployment.addresses.token, abi: cerberusTokenAbi, functionName: "totalSupply" },
        { address: r.deployment.addresses.brainRegistry, abi: brainRegistryAbi, functionName: "registrationPrice" },
      ] as const,
    });
  if (halvingInterval === 0n) throw new SdkError("SDK_BAD_CHAIN_DATA", "halvingInterval is 0");
  const era = head < genesisBlock ? 0n : (head - genesisBlock) / halvingInterval;
  return {
    head,
    genesisBlock,
    initialReward,
    halvingInterval,
    rewardPerBlock,
    era,
    nextHalvingBlock: genesisBlock + (era + 1n) * halvingInterval,
    emissionCap,
    totalMinted,
    activeBrains,
    split: { ownerBps: Number(ownerBps), minerBps: Number(minerBps), validatorBps: Number(validatorBps) },
    tokenSupply,
    brainPrice,
  };
}
