/**
 * A staker's positions: the hotkeys it ever staked to come from its Staked events (indexed by staker, paged by block
 * range), then one multicall reads every position, its claimable rewards, the unbond and the balances.
 */
import type { Address, PublicClient } from "viem";
import { cerberusTokenAbi, consensusAbi, neuronRegistryAbi, stakingAbi } from "../chain-artifacts/generated/abis.ts";
import { DEFAULT_PAGE_BLOCKS } from "./events.ts";
import { MULTICALL, checkAddress, type CerberusReader } from "./reader.ts";
import { SdkError } from "./errors.ts";
import type { MinerSeat, StakePosition, StakerView } from "./types.ts";

/** Calls `page(from, to)` over [deployBlock, head] in ranges of `pageSize` blocks, in order. */
async function forEachPage(r: CerberusReader, head: bigint, pageSize: bigint,
  page: (fromBlock: bigint, toBlock: bigint) => Promise<void>): Promise<void> {
  if (pageSize < 1n) throw new SdkError("SDK_BAD_INPUT", `pageSize must be ≥ 1, got ${pageSize}`);
  for (let lo = r.deployment.deployBlock; lo <= head; lo += pageSize) {
    await page(lo, lo + pageSize - 1n < head ? lo + pageSize - 1n : head);
  }
}

/** Distinct hotkeys `staker` has staked to, in order of first stake. ⌈blocks / pageSize⌉ eth_getLogs. */
export async function stakedHotkeys(
  r: CerberusReader,
  staker: Address,
  opts: { head?: bigint; pageSize?: bigint } = {},
): Promise<Address[]> {
  const head = opts.head ?? (await r.client.getBlockNumber());
  const seen = new Map<string, Address>();
  await forEachPage(r, head, opts.pageSize ?? DEFAULT_PAGE_BLOCKS, async (fromBlock, toBlock) => {
    const logs = await r.client.getContractEvents({
      address: r.deployment.addresses.staking, abi: stakingAbi, eventName: "Staked", args: { staker },
      fromBlock, toBlock, strict: true,
    });
    for (const l of logs) {
      const hk = l.args.hotkey;
      if (!seen.has(hk.toLowerCase())) seen.set(hk.toLowerCase(), hk);
    }
  });
  return [...seen.values()];
}

/** Brains in which `hotkey` ever took a miner seat (its NeuronRegistered events), in order. */
async function minerBrainsOf(r: CerberusReader, hotkey: Address, head: bigint, pageSize: bigint): Promise<bigint[]> {
  const brains = new Set<bigint>();
  await forEachPage(r, head, pageSize, async (fromBlock, toBlock) => {
    const logs = await r.client.getContractEvents({
      address: r.deployment.addresses.neuronRegistry, abi: neuronRegistryAbi, eventName: "NeuronRegistered",
      args: { hotkey, role: 0 }, fromBlock, toBlock, strict: true,
    });
    for (const l of logs) brains.add(l.args.brainId);
  });
  return [...brains];
}

/** The miner seats `hotkey` holds at `head`, each with its accrued incentive: two multicalls. */
async function minerSeatsOf(r: CerberusReader, hotkey: Address, head: bigint, pageSize: bigint): Promise<MinerSeat[]> {
  const brains = await minerBrainsOf(r, hotkey, head, pageSize);
  if (brains.length === 0) return [];
  const a = r.deployment.addresses;
  const seats = await r.client.multicall({ ...MULTICALL, allowFailure: false, blockNumber: head,
    contracts: brains.map((brainId) => ({ address: a.neuronRegistry, abi: neuronRegistryAbi, functionName: "uidOf", args: [brainId, hotkey] } as const)) });
  const held = brains.flatMap((brainId, i) => {
    const [registered, role, uid] = seats[i]!;
    return registered && role === 0 ? [{ brainId, uid }] : [];
  });
  if (held.length === 0) return [];
  const pending = await r.client.multicall({ ...MULTICALL, allowFailure: false, blockNumber: head,
    contracts: held.map(({ brainId, uid }) => ({ address: a.consensus, abi: consensusAbi, functionName: "minerPending", args: [brainId, uid] } as const)) });
  return held.map((seat, i) => ({ ...seat, pending: pending[i]! }));
}

export async function getStakerView(
  r: CerberusReader,
  stakerAddress: string,
  opts: { head?: bigint; pageSize?: bigint } = {},
): Promise<StakerView> {
  const staker = checkAddress(stakerAddress);
  const head = opts.head ?? (await r.client.getBlockNumber());
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_BLOCKS;
  const [hotkeys, minerSeats] = await Promise.all([
    stakedHotkeys(r, staker, { head, pageSize }), minerSeatsOf(r, staker, head, pageSize)]);
  const a = r.deployment.addresses;
  const s = { address: a.staking, abi: stakingAbi } as const;
  const fixed = [
    { address: a.token, abi: cerberusTokenAbi, functionName: "balanceOf", args: [staker] },
    { address: a.token, abi: cerberusTokenAbi, functionName: "allowance", args: [staker, a.staking] },
    { ...s, functionName: "unbonds", args: [staker] },
    { ...s, functionName: "hotkeyInfo", args: [staker] },
    { address: a.consensus, abi: consensusAbi, functionName: "claimable", args: [staker] },
  ] as const;
  const n = { address: a.neuronRegistry, abi: neuronRegistryAbi } as const;
  const PER = 4;
  const perHotkey = hotkeys.flatMap((hk) => [
    { ...s, functionName: "positionInfo", args: [staker, hk] } as const,
    { ...s, functionName: "hotkeyInfo", args: [hk] } as const,
    { ...s, functionName: "takeInfo", args: [hk] } as const,
    { ...n, functionName: "validatorBrainOf", args: [hk] } as const,
  ]);
  // One heterogeneous multicall; results are narrowed below by position (viem cannot type a spread of two lists).
  const contracts = [...fixed, ...perHotkey] as unknown as Parameters<PublicClient["multicall"]>[0]["contracts"];
  const res = (await r.client.multicall({ ...MULTICALL, blockNumber: head, contracts })) as unknown[];
  const balance = res[0] as bigint;
  const allowanceToStaking = res[1] as bigint;
  const [unbondAmount, releaseBlock] = res[2] as readonly [bigint, bigint];
  const [, , commission] = res[3] as readonly [bigint, number, bigint];
  const removedMinerRewards = res[4] as bigint;
  const positions: StakePosition[] = hotkeys.map((hotkey, k) => {
    const at = fixed.length + PER * k;
    const [amount, warming, pendingRewards] = res[at] as readonly [bigint, bigint, bigint];
    const [hotkeyTotalStake] = res[at + 1] as readonly [bigint, number, bigint];
    const [takeNow, takeNext, takeFrom] = res[at + 2] as readonly [number, number, bigint];
    const brain = res[at + 3] as bigint;
    return {
      hotkey, amount, warming, pendingRewards, hotkeyTotalStake, hotkeyTakeBps: takeNow,
      hotkeyNextTake: takeFrom === 0n ? null : { bps: takeNext, fromBlock: BigInt(takeFrom) },
      validatorOf: brain === 0n ? null : brain,
    };
  });
  const totalClaimable = positions.reduce((acc, p) => acc + p.pendingRewards, 0n) + commission + removedMinerRewards +
    minerSeats.reduce((acc, m) => acc + m.pending, 0n);
  return {
    staker,
    head,
    balance,
    allowanceToStaking,
    positions: positions.filter((p) => p.amount > 0n || p.pendingRewards > 0n),
    unbonding: { amount: unbondAmount, releaseBlock: BigInt(releaseBlock), withdrawable: unbondAmount > 0n && head >= BigInt(releaseBlock) },
    commission,
    removedMinerRewards,
    minerSeats,
    totalClaimable,
  };
}

/**
 * Average seconds per block over the last `span` blocks (two block reads), for "≈ time left" next to a block number.
 * Undefined on a chain too young to measure (or with equal timestamps, as an automine chain may have).
 */
export async function secondsPerBlock(r: CerberusReader, head: bigint, span = 64n): Promise<number | undefined> {
  const from = head > span ? head - span : 0n;
  if (from === head) return undefined;
  const [a, b] = await Promise.all([r.client.getBlock({ blockNumber: from }), r.client.getBlock({ blockNumber: head })]);
  const dt = Number(b.timestamp - a.timestamp);
  return dt > 0 ? dt / Number(head - from) : undefined;
}
