/**
 * Event feeds (registrations, stakes, settlements) with block-range paging: every query covers at most `pageSize`
 * blocks, because public RPCs cap eth_getLogs ranges and a dashboard must not ask for "0 → latest" on a long chain.
 */
import { getAbiItem, type Address, type Log } from "viem";
import { consensusAbi, neuronRegistryAbi, stakingAbi } from "../chain-artifacts/generated/abis.ts";
import { SdkError } from "./errors.ts";
import { checkId, type CerberusReader } from "./reader.ts";
import type { EventPage, FeedEvent, FeedName, Role } from "./types.ts";

export const DEFAULT_PAGE_BLOCKS = 5_000n;

const feedEvents = {
  registrations: [
    getAbiItem({ abi: neuronRegistryAbi, name: "NeuronRegistered" }),
    getAbiItem({ abi: neuronRegistryAbi, name: "NeuronDeregistered" }),
    getAbiItem({ abi: neuronRegistryAbi, name: "NeuronPruned" }),
  ],
  stakes: [
    getAbiItem({ abi: stakingAbi, name: "Staked" }),
    getAbiItem({ abi: stakingAbi, name: "Unbonding" }),
    getAbiItem({ abi: stakingAbi, name: "Withdrawn" }),
  ],
  settlements: [getAbiItem({ abi: consensusAbi, name: "EpochSettled" })],
} as const;

function feedAddress(r: CerberusReader, feed: FeedName): Address {
  const a = r.deployment.addresses;
  return feed === "registrations" ? a.neuronRegistry : feed === "stakes" ? a.staking : a.consensus;
}

export interface FeedFilter {
  /** registrations and settlements: only this Brain. */
  brainId?: bigint;
  /** stakes: only this staker. */
  staker?: Address;
}

const role = (n: number): Role => (n === 0 ? "miner" : "validator");

type DecodedLog = Log<bigint, number, false> & { eventName: string; args: Record<string, unknown> };

function normalize(log: DecodedLog): FeedEvent {
  const base = {
    blockNumber: log.blockNumber,
    logIndex: log.logIndex,
    transactionHash: log.transactionHash,
  };
  const a = log.args;
  switch (log.eventName) {
    case "NeuronRegistered":
    case "NeuronDeregistered":
    case "NeuronPruned":
      return {
        ...base,
        kind: log.eventName,
        brainId: a.brainId as bigint,
        role: role(a.role as number),
        uid: a.uid as number,
        hotkey: a.hotkey as Address,
      };
    case "Staked":
      return { ...base, kind: "Staked", staker: a.staker as Address, hotkey: a.hotkey as Address, amount: a.amount as bigint };
    case "Unbonding":
      return {
        ...base,
        kind: "Unbonding",
        staker: a.staker as Address,
        hotkey: a.hotkey as Address,
        amount: a.amount as bigint,
        releaseBlock: a.releaseBlock as bigint,
      };
    case "Withdrawn":
      return { ...base, kind: "Withdrawn", staker: a.staker as Address, amount: a.amount as bigint };
    case "EpochSettled":
      return {
        ...base,
        kind: "EpochSettled",
        brainId: a.brainId as bigint,
        epoch: a.epoch as bigint,
        emission: a.emission as bigint,
        minerPaid: a.minerPaid as bigint,
        validatorPaid: a.validatorPaid as bigint,
        ownerPaid: a.ownerPaid as bigint,
      };
    default:
      throw new SdkError("SDK_BAD_CHAIN_DATA", `unexpected event ${log.eventName}`);
  }
}

function matches(e: FeedEvent, f: FeedFilter): boolean {
  if (f.brainId !== undefined && "brainId" in e && e.brainId !== f.brainId) return false;
  if (f.staker !== undefined && "staker" in e && e.staker.toLowerCase() !== f.staker.toLowerCase()) return false;
  return true;
}

/** One eth_getLogs over [fromBlock, toBlock] (inclusive), decoded, filtered and in chain order. */
export async function getEventsPage(
  r: CerberusReader,
  feed: FeedName,
  range: { fromBlock: bigint; toBlock: bigint },
  filter: FeedFilter = {},
): Promise<EventPage> {
  if (range.fromBlock < 0n || range.toBlock < range.fromBlock) {
    throw new SdkError("SDK_BAD_INPUT", `bad block range ${range.fromBlock}..${range.toBlock}`);
  }
  const logs = await r.client.getLogs({
    address: feedAddress(r, feed),
    events: feedEvents[feed],
    // Single-event feeds can filter by the indexed brainId on the node; multi-event feeds filter below.
    ...(feed === "settlements" && filter.brainId !== undefined ? { args: { brainId: filter.brainId } } : {}),
    fromBlock: range.fromBlock,
    toBlock: range.toBlock,
    strict: true,
  } as Parameters<typeof r.client.getLogs>[0]);
  const events = (logs as unknown as DecodedLog[]).map(normalize).filter((e) => matches(e, filter));
  return { fromBlock: range.fromBlock, toBlock: range.toBlock, events };
}

export interface PagingOptions extends FeedFilter {
  fromBlock?: bigint; // default: the deployment block
  toBlock?: bigint; // default: the head at the first page
  pageSize?: bigint; // blocks per eth_getLogs, default 5,000
  /** "backward" walks from toBlock down (newest pages first, events within a page still in chain order). */
  direction?: "forward" | "backward";
}

/** Yields pages of at most `pageSize` blocks covering [fromBlock, toBlock]. */
export async function* pageEvents(
  r: CerberusReader,
  feed: FeedName,
  opts: PagingOptions = {},
): AsyncGenerator<EventPage> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_BLOCKS;
  if (pageSize < 1n) throw new SdkError("SDK_BAD_INPUT", `pageSize must be ≥ 1, got ${pageSize}`);
  const from = checkId("fromBlock", opts.fromBlock ?? r.deployment.deployBlock);
  const to = opts.toBlock ?? (await r.client.getBlockNumber());
  if (opts.direction === "backward") {
    for (let hi = to; hi >= from; hi -= pageSize) {
      const lo = hi - pageSize + 1n > from ? hi - pageSize + 1n : from;
      yield await getEventsPage(r, feed, { fromBlock: lo, toBlock: hi }, opts);
      if (lo === from) return;
    }
  } else {
    for (let lo = from; lo <= to; lo += pageSize) {
      const hi = lo + pageSize - 1n < to ? lo + pageSize - 1n : to;
      yield await getEventsPage(r, feed, { fromBlock: lo, toBlock: hi }, opts);
    }
  }
}

/**
 * The newest `limit` events of a feed, newest first, scanning backward from `toBlock` until enough are found, the
 * deployment block is reached, or `maxPages` eth_getLogs were made (default 16). Pages grow as the scan goes back —
 * `pageSize`, then twice that, up to 16 × `pageSize` per call — so a quiet feed's last events are found however long
 * ago they happened (16 calls reach ≈ 1M blocks back at the default page size), while a busy feed costs one call.
 */
export async function recentEvents(
  r: CerberusReader,
  feed: FeedName,
  opts: Omit<PagingOptions, "direction"> & { limit?: number; maxPages?: number } = {},
): Promise<FeedEvent[]> {
  const limit = opts.limit ?? 20;
  const maxPages = opts.maxPages ?? 16;
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_BLOCKS;
  if (pageSize < 1n) throw new SdkError("SDK_BAD_INPUT", `pageSize must be ≥ 1, got ${pageSize}`);
  const from = checkId("fromBlock", opts.fromBlock ?? r.deployment.deployBlock);
  const to = opts.toBlock ?? (await r.client.getBlockNumber());
  const out: FeedEvent[] = [];
  let size = pageSize;
  for (let hi = to, pages = 0; hi >= from && out.length < limit && pages < maxPages; pages++) {
    const lo = hi - size + 1n > from ? hi - size + 1n : from;
    const page = await getEventsPage(r, feed, { fromBlock: lo, toBlock: hi }, opts);
    out.push(...page.events.slice().reverse());
    if (lo === from) break;
    hi = lo - 1n;
    if (size < 16n * pageSize) size *= 2n;
  }
  return out.slice(0, limit);
}
