import { test } from "node:test";
import assert from "node:assert/strict";
import hre from "hardhat";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../../scripts/deploy.ts";
import { ChainClient } from "../../../nodes/chain/client.ts";
import { weightsCommitHash as commitHash } from "../../../nodes/chain/yuma.ts";
import { parseDeployment } from "../../../nodes/chain/deployment.ts";
import { ChainRevertError } from "../../../nodes/chain/errors.ts";
import { isCerberusError } from "../../../nodes/core/errors.ts";

const CBR = 10n ** 18n;
const PEER = "12D3KooWGzh8HZxZgMjD2qpkj4n3Y7ZJRrcnpqSrTQQHWMbs8sVA";
const MINER_PEER = "12D3KooWGzh8HZxZgMjD2qpkj4n3Y7ZJRrcnpqSrTQQHWMbs8sVB";

async function mine(blocks: number): Promise<void> {
  await hre.network.provider.request({ method: "hardhat_mine", params: [`0x${blocks.toString(16)}`] });
}

test("ChainClient: a full epoch through the typed client on the in-process EVM", async () => {
  const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre, { brainFee: 10n * CBR }))));
  const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
  const [owner, miner, validator] = accounts as [Address, Address, Address];
  const as = (account: Address) => new ChainClient({ transport: custom(hre.network.provider), deployment, account });
  const ownerClient = as(owner);

  const supplyBefore = await ownerClient.totalSupply();
  const brainId = await ownerClient.mintBrain({
    modelHash: `0x${"11".repeat(32)}`, fheParamsHash: `0x${"22".repeat(32)}`, uri: "models/brown-lm.onnx", tempo: 20,
    limits: { maxMiners: 32, maxValidators: 2, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 },
  });
  assert.equal(brainId, 1n);
  assert.equal(await ownerClient.totalSupply(), supplyBefore - 10n * CBR, "the registration fee is burned");

  await ownerClient.transfer(validator, 1_000n * CBR);
  const v = as(validator);
  await assert.rejects(v.register(brainId, "Validator", { peerId: PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/1"] }),
    (err: unknown) => err instanceof ChainRevertError && err.errorName === "InsufficientStake");
  await v.stake(validator, 500n * CBR);
  const vUid = await v.register(brainId, "Validator", { peerId: PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/1"] });
  const m = as(miner);
  await assert.rejects(m.register(brainId, "Miner", { peerId: PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/2"] }),
    (err: unknown) => err instanceof ChainRevertError && err.errorName === "PeerIdTaken", "a peer id is one hotkey's per Brain");
  const mUid = await m.register(brainId, "Miner", { peerId: MINER_PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/2", "/ip4/127.0.0.1/tcp/3"] });
  assert.equal(await m.register(brainId, "Miner", { peerId: MINER_PEER, multiaddrs: ["/ip4/127.0.0.1/tcp/4"] }), mUid,
    "registering again resumes the same seat and updates the peer info");

  await v.setTake(0);
  await v.setTake(1_000);
  const take = await v.takeInfo(validator);
  assert.equal(take.takeBps, 0, "a raise does not apply at once");
  assert.equal(take.pendingTakeBps, 1_000);
  assert.ok(take.effectiveBlock >= (await v.blockNumber()) + 20n, "a raise waits at least one epoch (tempo 20)");

  const snapshot = await v.brain(brainId);
  assert.equal(snapshot.miners.length, 1);
  assert.deepEqual(snapshot.miners[0]!.multiaddrs, ["/ip4/127.0.0.1/tcp/4"]);
  assert.equal(snapshot.validators[0]!.stake, 500n * CBR);

  // stake and seats count for an epoch only if they were in place when it began: commit in the next epoch
  const setupEpoch = await v.epochAt(brainId, await v.blockNumber());
  await mine(Number((await v.windows(brainId, setupEpoch)).revealFrom - (await v.blockNumber())));
  const epoch = await v.epochAt(brainId, await v.blockNumber());
  assert.equal(epoch, setupEpoch + 1n);
  const salt = `0x${"ab".repeat(32)}` as const;
  const uids = [mUid];
  const weights = [65_535];
  const binding = { chainId: BigInt(await v.public.getChainId()), consensus: v.deployment.contracts.Consensus.address,
    brainId, epoch, hotkey: validator, validatorUid: vUid };
  await v.commit(brainId, epoch, commitHash(binding, uids, weights, salt));
  assert.equal(await v.commitOf(brainId, epoch, vUid), commitHash(binding, uids, weights, salt));
  await assert.rejects(v.reveal(brainId, epoch, uids, weights, salt),
    (err: unknown) => err instanceof ChainRevertError && err.errorName === "RevealWindowClosed");
  const w = await v.windows(brainId, epoch);
  await mine(Number(w.revealFrom - (await v.blockNumber())));
  await assert.rejects(v.reveal(brainId, epoch, uids, [1], salt),
    (err: unknown) => err instanceof ChainRevertError && err.errorName === "CommitMismatch");
  await v.reveal(brainId, epoch, uids, weights, salt);
  await mine(Number(w.revealTo - (await v.blockNumber())));
  const settled = await ownerClient.settle(brainId, epoch, 1n);
  assert.ok(settled.transactions >= 2, "chunks of 16 miner-steps over 32 seats × 2 phases need several transactions");
  await assert.rejects(ownerClient.settle(brainId, epoch),
    (err: unknown) => isCerberusError(err, "REVERTED") && (err as ChainRevertError).errorName === "EpochAlreadySettled");

  const after = await v.brain(brainId);
  assert.ok(after.miners[0]!.incentiveRaw >= 65_534, "the only miner takes the whole incentive (to one unit of fixed-point rounding)");
  assert.ok(after.miners[0]!.pendingReward > 0n);
  const before = await m.balanceOf(miner);
  await m.claimMiner(brainId, mUid);
  assert.equal(await m.balanceOf(miner), before + after.miners[0]!.pendingReward);
});

test("ChainClient retries transient RPC failures and gives up with a typed error", async () => {
  const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre))));
  let failuresLeft = 2;
  let calls = 0;
  const flaky = custom({
    async request(args: { method: string; params?: unknown[] }) {
      calls++;
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error("ECONNRESET: socket hang up");
      }
      return hre.network.provider.request(args);
    },
  }, { retryCount: 0 });
  const client = new ChainClient({ transport: flaky, deployment, attempts: 3 });
  assert.ok((await client.totalSupply()) > 0n, "succeeds on the third attempt");
  assert.equal(calls, 3);

  const down = custom({ async request() { throw new Error("ECONNREFUSED 127.0.0.1:8545"); } }, { retryCount: 0 });
  await assert.rejects(new ChainClient({ transport: down, deployment, attempts: 2 }).totalSupply(),
    (err: unknown) => isCerberusError(err, "RPC_UNAVAILABLE"));
});

test("the caller's mistakes fail at once with their own code, never retried as RPC failures", async () => {
  const deployment = parseDeployment(JSON.parse(JSON.stringify(await deployCerberus(hre, { brainFee: 10n * CBR }))));
  let calls = 0;
  const counted = custom({
    request(args: { method: string; params?: unknown[] }) { calls++; return hre.network.provider.request(args); },
  }, { retryCount: 0 });
  const reader = new ChainClient({ transport: counted, deployment, attempts: 3 });
  await assert.rejects(reader.brain(42n), (err: unknown) => isCerberusError(err, "SDK_UNKNOWN_BRAIN"));
  assert.ok(calls <= 3, `an unknown Brain costs the lens call and brainCount, not three rounds of retries (${calls} calls)`);

  // An address the node does not hold: refused before anything is sent, with a hint instead of "RPC unavailable".
  const stranger = "0x000000000000000000000000000000000000dEaD" as Address;
  const locked = new ChainClient({ transport: custom(hre.network.provider), deployment, account: stranger });
  await assert.rejects(locked.transfer(stranger, 1n), (err: unknown) =>
    isCerberusError(err, "ACCOUNT_NOT_UNLOCKED") && /--private-key/.test((err as Error).message));

  // Reverts name their arguments and show amounts in CBR, not wei.
  const accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
  const poor = new ChainClient({ transport: custom(hre.network.provider), deployment, account: accounts[5]! });
  await assert.rejects(poor.transfer(accounts[6]!, 1_000_000_000n * CBR), (err: unknown) =>
    err instanceof ChainRevertError && err.errorName === "ERC20InsufficientBalance" &&
    /balance: 0 CBR, needed: 1000000000 CBR/.test(err.message));
});
