/** Brains: the list (two eth_calls for a page of Brains) and one Brain with all its neurons (one eth_call, the lens). */
import { brainRegistryAbi, cerberusLensAbi, neuronRegistryAbi } from "../chain-artifacts/generated/abis.ts";
import { SdkError } from "./errors.ts";
import { MULTICALL, checkId, type CerberusReader } from "./reader.ts";
import { brainRecordSchema, brainViewSchema, bytesToDisplay, parseChain, SHARE_ONE } from "./schemas.ts";
import type { BrainDetail, BrainMeta, BrainSummary, Neuron } from "./types.ts";
import { z } from "zod";
import { zeroAddress } from "viem";

function popcount(x: bigint): number {
  let c = 0;
  for (; x !== 0n; x &= x - 1n) c++;
  return c;
}

/** Number of Brains minted (ids are 1..count). */
export async function brainCount(r: CerberusReader): Promise<bigint> {
  return r.client.readContract({
    address: r.deployment.addresses.brainRegistry,
    abi: brainRegistryAbi,
    functionName: "brainCount",
  });
}

/**
 * After a failed read: SdkError SDK_UNKNOWN_BRAIN when the id was never minted. Asks brainCount instead of decoding
 * the revert because providers wrap revert data differently (Hardhat in-process, HTTP nodes, wallets).
 */
export async function throwIfUnknownBrain(r: CerberusReader, id: bigint, cause: unknown): Promise<void> {
  let count: bigint;
  try {
    count = await brainCount(r);
  } catch {
    return; // the chain itself is failing: let the original error through
  }
  if (id === 0n || id > count) throw new SdkError("SDK_UNKNOWN_BRAIN", `no Brain with id ${id} (${count} minted)`, { cause });
}

/**
 * A page of Brains with metadata, owner and seat counts: one eth_call for the count, one multicall for the page.
 * @param offset 0-based index into ids 1..count; limit ≤ 200 (the multicall stays far below the eth_call gas cap).
 */
export async function listBrains(
  r: CerberusReader,
  opts: { offset?: number; limit?: number } = {},
): Promise<{ total: bigint; brains: BrainSummary[] }> {
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? 50;
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 200) {
    throw new SdkError("SDK_BAD_INPUT", `bad page: offset ${offset}, limit ${limit} (1..200)`);
  }
  const total = await brainCount(r);
  const ids: bigint[] = [];
  for (let id = BigInt(offset) + 1n; id <= total && ids.length < limit; id++) ids.push(id);
  if (ids.length === 0) return { total, brains: [] };
  const { brainRegistry, neuronRegistry } = r.deployment.addresses;
  // ownerOf reverts for a deregistered Brain (its NFT is burned): that one call may fail, every other must not.
  const results = await r.client.multicall({
    ...MULTICALL,
    allowFailure: true,
    contracts: ids.flatMap((id) => [
      { address: brainRegistry, abi: brainRegistryAbi, functionName: "brain", args: [id] } as const,
      { address: brainRegistry, abi: brainRegistryAbi, functionName: "brainExists", args: [id] } as const,
      { address: brainRegistry, abi: brainRegistryAbi, functionName: "ownerOf", args: [id] } as const,
      { address: neuronRegistry, abi: neuronRegistryAbi, functionName: "occupancy", args: [id] } as const,
    ]),
  });
  const ok = (k: number, what: string): unknown => {
    const x = results[k]!;
    if (x.status !== "success") throw new SdkError("SDK_BAD_CHAIN_DATA", `${what}: ${x.error.message.split("\n")[0]}`);
    return x.result;
  };
  const brains = ids.map((id, k): BrainSummary => {
    const rec = parseChain(brainRecordSchema, ok(4 * k, `brain ${id}`), `brain ${id}`);
    const active = parseChain(z.boolean(), ok(4 * k + 1, `brainExists ${id}`), `brainExists ${id}`);
    const owner = (active ? parseChain(z.string(), ok(4 * k + 2, `owner of ${id}`), `owner of ${id}`)
      : zeroAddress) as BrainMeta["owner"];
    const [minerMask, validatorMask] = ok(4 * k + 3, `occupancy ${id}`) as readonly [bigint, bigint];
    return { ...metaOf(id, owner, active, rec), minerCount: popcount(minerMask), validatorCount: popcount(validatorMask) };
  });
  return { total, brains };
}

function metaOf(id: bigint, owner: BrainMeta["owner"], active: boolean, rec: z.infer<typeof brainRecordSchema>): BrainMeta {
  return {
    id,
    owner,
    active,
    modelHash: rec.modelHash,
    fheParamsHash: rec.fheParamsHash,
    uri: rec.uri,
    genesisBlock: rec.genesisBlock,
    tempo: rec.tempo,
    limits: rec.limits,
  };
}

/**
 * One Brain with every seated neuron (uid, role, peer, stake, incentive, dividends, pending reward): a single
 * eth_call to CerberusLens.brainView. Throws SdkError SDK_UNKNOWN_BRAIN for a missing id.
 */
export async function getBrain(
  r: CerberusReader,
  brainId: bigint | number,
  opts: { blockNumber?: bigint } = {},
): Promise<BrainDetail> {
  const id = checkId("brainId", brainId);
  let raw: unknown;
  try {
    raw = await r.client.readContract({
      address: r.deployment.addresses.lens,
      abi: cerberusLensAbi,
      functionName: "brainView",
      args: [id],
      blockNumber: opts.blockNumber,
    });
  } catch (err) {
    await throwIfUnknownBrain(r, id, err);
    throw err;
  }
  const v = parseChain(brainViewSchema, raw, `lens.brainView(${id})`);
  const neuron = (n: (typeof v.miners)[number]): Neuron => ({
    uid: n.uid,
    role: n.role === 0 ? "miner" : "validator",
    hotkey: n.hotkey,
    peerId: bytesToDisplay(n.peerId),
    multiaddrs: bytesToDisplay(n.multiaddrs),
    registeredAt: n.registeredAt,
    stake: n.stake,
    incentive: n.incentive / SHARE_ONE,
    incentiveRaw: n.incentive,
    dividends: n.dividends / SHARE_ONE,
    dividendsRaw: n.dividends,
    pendingReward: n.pendingReward,
    lastUpdate: v.lastUpdate,
    take: { bps: n.takeBps, nextBps: n.nextTakeBps, fromBlock: n.takeFromBlock === 0n ? null : n.takeFromBlock },
  });
  return {
    ...metaOf(v.brainId, v.owner, v.active, v.brain),
    pendingLimits: v.limitsFromBlock === 0n ? null : { limits: v.pendingLimits, fromBlock: v.limitsFromBlock },
    currentEpoch: v.currentEpoch,
    settledAny: v.settledAny,
    lastSettledEpoch: v.settledAny && v.settlementPhase === 0 ? v.settlementEpoch : null,
    settlementInProgress:
      v.settlementPhase === 0 ? null : { epoch: v.settlementEpoch, phase: v.settlementPhase === 1 ? "ranking" : "paying" },
    lastUpdate: v.lastUpdate,
    emission: {
      weight: v.emissionWeight,
      totalWeight: v.totalEmissionWeight,
      share: v.totalEmissionWeight === 0n ? 0 : Number((v.emissionWeight * 1_000_000n) / v.totalEmissionWeight) / 1e6,
    },
    miners: v.miners.map(neuron),
    validators: v.validators.map(neuron),
  };
}
