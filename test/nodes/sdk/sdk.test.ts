/**
 * Read SDK against the real contracts on Hardhat's in-process EVM: every SDK read is compared with a direct contract
 * read, event paging with a tiny page size must equal one big page, and bad input fails with typed errors.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import hre from "hardhat";
import { createPublicClient, createWalletClient, custom, parseUnits, type PublicClient } from "viem";
import {
  SdkError,
  createCerberusReader,
  getBrain,
  getEmissionSchedule,
  getEpochState,
  getEventsPage,
  getIncentiveHistory,
  getStakerView,
  getValidatorActivity,
  listBrains,
  pageEvents,
  parseDeployment,
  recentEvents,
  stakeWithWallet,
  type CerberusReader,
  type FeedEvent,
} from "../../../nodes/sdk/index.ts";
import { cerberusTokenAbi, consensusAbi, emissionAbi, neuronRegistryAbi, stakingAbi } from "../../../nodes/chain-artifacts/generated/abis.ts";
import { brainViewSchema, parseChain } from "../../../nodes/sdk/schemas.ts";
import { seedChain, type SeededChain } from "./seed.ts";

const isSdkError = (code: string) => (err: unknown) => err instanceof SdkError && err.code === code;

let chain: SeededChain;
let r: CerberusReader;
const a = () => r.deployment.addresses;

/** A reader whose transport counts the JSON-RPC calls it makes. */
function countingReader(): { reader: CerberusReader; calls: string[] } {
  const calls: string[] = [];
  const provider = hre.network.provider;
  const counted = {
    request: (args: { method: string; params?: unknown[] }) => {
      calls.push(args.method);
      return provider.request(args);
    },
  };
  const client = createPublicClient({ transport: custom(counted), cacheTime: 0 }) as PublicClient;
  return { reader: createCerberusReader(client, r.deployment), calls };
}

describe("read SDK on a Hardhat chain", { timeout: 180_000 }, () => {
  before(async () => {
    chain = await seedChain([
      { miners: 20, validators: 4, tempo: 40, settledEpochs: 2, commitCurrent: 2 },
      { miners: 3, validators: 1, tempo: 40, settledEpochs: 0 },
    ]);
    r = chain.reader;
  });

  it("rejects malformed deployments and chain data with typed errors", () => {
    assert.throws(() => parseDeployment({ network: "x" }), isSdkError("SDK_BAD_DEPLOYMENT"));
    const bad = structuredClone(chain.deploymentJson) as { contracts: { CerberusLens: { address: string } } };
    bad.contracts.CerberusLens.address = "0x1234";
    assert.throws(() => parseDeployment(bad), isSdkError("SDK_BAD_DEPLOYMENT"));
    assert.throws(() => parseChain(brainViewSchema, { brainId: 1n }, "lens"), isSdkError("SDK_BAD_CHAIN_DATA"));
  });

  it("getBrain: one eth_call, equal to the contracts' own getters", async () => {
    const { reader, calls } = countingReader();
    const b = await getBrain(reader, 1n);
    assert.deepEqual(calls, ["eth_call"]);
    assert.equal(b.miners.length, 20);
    assert.equal(b.validators.length, 4);
    assert.equal(b.lastSettledEpoch, chain.brains[0].settledEpochs.at(-1));
    assert.equal(b.settledAny, true);
    assert.equal(b.settlementInProgress, null);
    const inc = await chain.client.readContract({ address: a().consensus, abi: consensusAbi, functionName: "minerIncentives", args: [1n] }) as readonly number[]; // uint16[256]: too long a tuple for viem's types
    const div = await chain.client.readContract({ address: a().consensus, abi: consensusAbi, functionName: "validatorDividends", args: [1n] });
    for (const n of [...b.miners, ...b.validators]) {
      const rec = await chain.client.readContract({
        address: a().neuronRegistry,
        abi: neuronRegistryAbi,
        functionName: "neuron",
        args: [1n, n.role === "miner" ? 0 : 1, n.uid],
      });
      assert.equal(n.hotkey, rec.hotkey);
      assert.equal(n.registeredAt, rec.registeredAt);
      const stake = await chain.client.readContract({ address: a().staking, abi: stakingAbi, functionName: "totalStake", args: [n.hotkey] });
      assert.equal(n.stake, stake);
      if (n.role === "miner") assert.equal(n.incentiveRaw, inc[n.uid]);
      else assert.equal(n.dividendsRaw, div[n.uid]);
    }
    assert.deepEqual(b.miners.map((m) => m.hotkey), chain.brains[0].miners);
    assert.ok(b.miners.every((m) => m.peerId.startsWith("12D3KooWminer")), "peer ids decoded as text");
    assert.ok(b.validators.reduce((s, v) => s + v.dividendsRaw, 0) > 65_000, "dividend shares sum to ~1");
  });

  it("getBrain / listBrains: unknown ids and bad pages are typed errors", async () => {
    await assert.rejects(getBrain(r, 99n), isSdkError("SDK_UNKNOWN_BRAIN"));
    await assert.rejects(getBrain(r, 0n), isSdkError("SDK_UNKNOWN_BRAIN"));
    await assert.rejects(getBrain(r, -1), isSdkError("SDK_BAD_INPUT"));
    await assert.rejects(listBrains(r, { limit: 0 }), isSdkError("SDK_BAD_INPUT"));
    await assert.rejects(getEpochState(r, 3n), isSdkError("SDK_UNKNOWN_BRAIN"));
  });

  it("listBrains: metadata, owners and seat counts in two eth_calls", async () => {
    const { reader, calls } = countingReader();
    const { total, brains } = await listBrains(reader);
    assert.deepEqual(calls, ["eth_call", "eth_call"]);
    assert.equal(total, 2n);
    assert.deepEqual(
      brains.map((b) => [b.id, b.owner, b.minerCount, b.validatorCount, b.tempo]),
      [
        [1n, chain.brains[0].owner, 20, 4, 40],
        [2n, chain.brains[1].owner, 3, 1, 40],
      ],
    );
    const page2 = await listBrains(r, { offset: 1, limit: 5 });
    assert.deepEqual(page2.brains.map((b) => b.id), [2n]);
  });

  it("getEpochState and getValidatorActivity follow Consensus.windows and the commit/reveal events", async () => {
    const s = await getEpochState(r, 1n);
    const [commitFrom, revealFrom, revealTo] = await chain.client.readContract({
      address: a().consensus,
      abi: consensusAbi,
      functionName: "windows",
      args: [1n, s.currentEpoch],
    });
    assert.deepEqual([s.current.commitFrom, s.current.revealFrom, s.current.revealTo], [commitFrom, revealFrom, revealTo]);
    const epochAt = await chain.client.readContract({ address: a().consensus, abi: consensusAbi, functionName: "epochAt", args: [1n, s.head] });
    assert.equal(s.currentEpoch, epochAt);
    assert.equal(s.settlement.phase, "idle");
    assert.equal(s.settlement.epoch, chain.brains[0].settledEpochs.at(-1));
    const pending = await chain.client.readContract({ address: a().emission, abi: emissionAbi, functionName: "pendingEmission", args: [1n], blockNumber: s.head });
    assert.equal(s.pendingEmission, pending);
    const b = await getBrain(r, 1n);
    const act = await getValidatorActivity(r, 1n, s, b.validators);
    assert.deepEqual(act.map((x) => x.revealedPrevious), [true, true, true, true]);
    assert.deepEqual(act.map((x) => x.committedCurrent), [true, true, false, false]);
  });

  it("getIncentiveHistory: per-epoch scores equal the contract's state at each settlement", async () => {
    const h = await getIncentiveHistory(r, 1n, { epochs: 5 });
    assert.deepEqual(h.map((e) => e.epoch), chain.brains[0].settledEpochs);
    for (const e of h) {
      const inc = await chain.client.readContract({
        address: a().consensus,
        abi: consensusAbi,
        functionName: "minerIncentives",
        args: [1n],
        blockNumber: e.settledAtBlock,
      }) as readonly number[];
      assert.deepEqual(e.incentives, [...inc].map((x) => x / 65_535));
      assert.equal(e.minerPaid + e.validatorPaid + e.ownerPaid, e.emission);
    }
    assert.notDeepEqual(h[0].incentives, h[1].incentives, "weights drift between epochs");
    await assert.rejects(getIncentiveHistory(r, 1n, { epochs: 0 }), isSdkError("SDK_BAD_INPUT"));
  });

  it("event feeds: paging with a 7-block page equals one page, backward paging returns newest first", async () => {
    const head = await chain.client.getBlockNumber();
    for (const feed of ["registrations", "stakes", "settlements"] as const) {
      const one = await getEventsPage(r, feed, { fromBlock: 0n, toBlock: head });
      const paged: FeedEvent[] = [];
      let pages = 0;
      for await (const p of pageEvents(r, feed, { fromBlock: 0n, toBlock: head, pageSize: 7n })) {
        assert.ok(p.toBlock - p.fromBlock < 7n);
        paged.push(...p.events);
        pages++;
      }
      assert.equal(pages, Math.ceil(Number(head + 1n) / 7));
      assert.deepEqual(paged, one.events, feed);
      const recent = await recentEvents(r, feed, { limit: 3, pageSize: 7n, toBlock: head, maxPages: 1_000 });
      assert.deepEqual(recent, one.events.slice(-3).reverse(), `recent ${feed}`);
    }
    const regs = (await getEventsPage(r, "registrations", { fromBlock: 0n, toBlock: head }, { brainId: 1n })).events;
    assert.equal(regs.length, 24);
    const settled = (await getEventsPage(r, "settlements", { fromBlock: 0n, toBlock: head }, { brainId: 1n })).events;
    assert.deepEqual(settled.map((e) => (e.kind === "EpochSettled" ? e.epoch : -1n)), chain.brains[0].settledEpochs);
    const totalMinted = await chain.client.readContract({ address: a().emission, abi: emissionAbi, functionName: "totalMinted" });
    assert.equal(settled.reduce((s, e) => s + (e.kind === "EpochSettled" ? e.emission : 0n), 0n), totalMinted);
    await assert.rejects(getEventsPage(r, "stakes", { fromBlock: 5n, toBlock: 4n }), isSdkError("SDK_BAD_INPUT"));
    // A quiet range is scanned at most maxPages pages deep.
    const { reader, calls } = countingReader();
    const none = await recentEvents(reader, "settlements", { brainId: 2n, toBlock: head, pageSize: 1n, maxPages: 3 });
    assert.deepEqual(none, []);
    assert.deepEqual(calls, ["eth_getLogs", "eth_getLogs", "eth_getLogs"]);
  });

  it("getEmissionSchedule matches the Emission contract", async () => {
    const e = await getEmissionSchedule(r);
    assert.equal(e.initialReward, 10n ** 18n);
    assert.equal(e.halvingInterval, 1_000_000n);
    assert.equal(e.rewardPerBlock, 10n ** 18n);
    assert.deepEqual(e.split, { ownerBps: 1800, minerBps: 4100, validatorBps: 4100 });
    assert.equal(e.activeBrains, 2n);
    assert.equal(e.nextHalvingBlock, e.genesisBlock + 1_000_000n);
  });

  it("getStakerView: positions and claimable rewards equal Staking.positionOf", async () => {
    const v = await getStakerView(r, chain.delegator);
    assert.deepEqual(v.positions.map((p) => p.hotkey), chain.delegatedTo);
    let sum = 0n;
    for (const p of v.positions) {
      const [amount, pending] = await chain.client.readContract({ address: a().staking, abi: stakingAbi, functionName: "positionOf", args: [chain.delegator, p.hotkey] });
      assert.equal(p.amount, amount);
      assert.equal(p.pendingRewards, pending);
      sum += pending;
    }
    assert.ok(sum > 0n);
    assert.equal(v.totalClaimable, sum + v.commission + v.removedMinerRewards);
    assert.deepEqual(v.minerSeats, [], "a delegator holds no miner seat");
    await assert.rejects(getStakerView(r, "0xnope"), isSdkError("SDK_BAD_INPUT"));
  });

  it("getStakerView: a miner's seat and its accrued incentive, counted in what it can claim", async () => {
    const brain = await getBrain(r, chain.brains[0].id);
    const paid = brain.miners.find((m) => m.pendingReward > 0n);
    assert.ok(paid !== undefined, "a settled epoch paid some miner");
    const v = await getStakerView(r, paid.hotkey);
    assert.deepEqual(v.minerSeats, [{ brainId: chain.brains[0].id, uid: paid.uid, pending: paid.pendingReward }]);
    assert.ok(v.totalClaimable >= paid.pendingReward);
  });

  it("stakeWithWallet approves when needed, stakes, and rejects bad input", async () => {
    const wallet = createWalletClient({ account: chain.accounts[11], transport: custom(hre.network.provider) });
    const hk = chain.brains[0].validators[3];
    const res = await stakeWithWallet(r, wallet, hk, parseUnits("10", 18));
    assert.ok(res.approveTx, "first stake needs an approval");
    const [amount] = await chain.client.readContract({ address: a().staking, abi: stakingAbi, functionName: "positionOf", args: [chain.accounts[11], hk] });
    assert.equal(amount, parseUnits("10", 18));
    await assert.rejects(stakeWithWallet(r, wallet, hk, 0n), isSdkError("SDK_BAD_INPUT"));
    await assert.rejects(stakeWithWallet(r, wallet, "0x12", 1n), isSdkError("SDK_BAD_INPUT"));
  });

  it("a stake that cannot go through leaves no approval behind (delegating to a non-validator, more than the balance)", async () => {
    const account = chain.accounts[12]!;
    const wallet = createWalletClient({ account, transport: custom(hre.network.provider) });
    const allowance = () => chain.client.readContract({ address: a().token, abi: cerberusTokenAbi, functionName: "allowance", args: [account, a().staking] });
    const balance = await chain.client.readContract({ address: a().token, abi: cerberusTokenAbi, functionName: "balanceOf", args: [account] });
    assert.ok(balance > parseUnits("5", 18), "the account holds CBR");
    const notAValidator = chain.brains[0].miners[0]!;
    await assert.rejects(stakeWithWallet(r, wallet, notAValidator, parseUnits("5", 18)),
      (err: unknown) => err instanceof SdkError && err.code === "SDK_REVERTED" && err.errorName === "NotAValidator");
    assert.equal(await allowance(), 0n, "refused delegation left no allowance");
    await assert.rejects(stakeWithWallet(r, wallet, chain.brains[0].validators[3]!, balance + 1n),
      (err: unknown) => isSdkError("SDK_BAD_INPUT")(err) && /holds/.test((err as Error).message));
    assert.equal(await allowance(), 0n, "a stake above the balance approved nothing");
  });
});
