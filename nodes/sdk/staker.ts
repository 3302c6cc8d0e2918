/**
 * A staker's positions: the hotkeys it ever staked to come from its Staked events (indexed by staker, paged by block
 * range), then one multicall reads every position, its claimable rewards, the unbond and the balances.
 */
import type { Address, PublicClient } from "viem";
import { cerberusTokenAbi, consensusAbi, neuronRegistryAbi, stakingAbi } from "../chain-artifacts/generated/abis.ts";
import { DEFAULT_PAGE_BLOCKS } from "./events.ts";
import { MULTICALL, checkAddress, type CerberusReader } from "./reader.ts";
import { SdkError } from "./errors.ts";
import type { StakePosition, StakerView } from "./types.ts";

/** Distinct hotkeys `staker` has staked to, in order of first stake. ⌈blocks / pageSize⌉ eth_getLogs. */
export async function stakedHotkeys(
  r: CerberusReader,
  staker: Address,
  opts: { head?: bigint; pageSize?: bigint } = {},
): Promise<Address[]> {
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_BLOCKS;
  if (pageSize < 1n) throw new SdkError("SDK_BAD_INPUT", `pageSize must be ≥ 1, got ${pageSize}`);
  const head = opts.head ?? (await r.client.getBlockNumber());
  const seen = new Map<string, Address>();
  for (let lo = r.deployment.deployBlock; lo <= head; lo += pageSize) {
    const hi = lo + pageSize - 1n < head ? lo + pageSize - 1n : head;
    const logs = await r.client.getContractEvents({
      address: r.deployment.addresses.staking,
      abi: stakingAbi,
      eventName: "Staked",
      args: { staker },
      fromBlock: lo,
      toBlock: hi,
      strict: true,
    });
    for (const l of logs) {
      const hk = l.args.hotkey;
      if (!seen.has(hk.toLowerCase())) seen.set(hk.toLowerCase(), hk);
    }
  }
  return [...seen.values()];
}

export async function getStakerView(
  r: CerberusReader,
  stakerAddress: string,
  opts: { head?: bigint; pageSize?: bigint } = {},
): Promise<StakerView> {
  const staker = checkAddress(stakerAddress);
  const head = opts.head ?? (await r.client.getBlockNumber());
  const hotkeys = await stakedHotkeys(r, staker, { head, pageSize: opts.pageSize });
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
  const totalClaimable = positions.reduce((acc, p) => acc + p.pendingRewards, 0n) + commission + removedMinerRewards;
  return {
    staker,
    head,
    balance,
    allowanceToStaking,
    positions: positions.filter((p) => p.amount > 0n || p.pendingRewards > 0n),
    unbonding: { amount: unbondAmount, releaseBlock: BigInt(releaseBlock), withdrawable: unbondAmount > 0n && head >= BigInt(releaseBlock) },
    commission,
    removedMinerRewards,
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
