/**
 * Test chain for the SDK and dashboard tests: the real contracts deployed by scripts/deploy.ts on Hardhat's
 * in-process EVM, then state seeded through the contracts' own flows (mint, stake, register, commit, reveal, settle).
 * Hotkeys are generated addresses, impersonated and funded with hardhat_setBalance, so a Brain can hold 256 neurons.
 */
import hre from "hardhat";
import {
  createPublicClient,
  createWalletClient,
  custom,
  getAddress,
  keccak256,
  numberToHex,
  stringToHex,
  toHex,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { deployCerberus, writeDeployment } from "../../../scripts/deploy.ts";
import {
  brainRegistryAbi,
  cerberusTokenAbi,
  consensusAbi,
  neuronRegistryAbi,
  stakingAbi,
} from "../../../nodes/chain-artifacts/generated/abis.ts";
import { createCerberusReader, parseDeployment, type CerberusReader } from "../../../nodes/sdk/index.ts";
import { weightsCommitHash } from "../../../nodes/chain/yuma.ts";

export const CBR = 10n ** 18n;
const ROLE_MINER = 0;
const ROLE_VALIDATOR = 1;

export interface BrainSpec {
  miners: number;
  validators: number;
  tempo: number;
  /** Epochs to run through commit → reveal → settle. */
  settledEpochs: number;
  /** Validators (the first n) that commit weights for the current epoch after the last settlement. */
  commitCurrent?: number;
}

export interface SeededBrain {
  id: bigint;
  owner: Address;
  miners: Address[];
  validators: Address[];
  settledEpochs: bigint[];
}

export interface SeededChain {
  reader: CerberusReader;
  client: PublicClient;
  /** The deployments JSON as scripts/deploy.ts writes it. */
  deploymentJson: unknown;
  brains: SeededBrain[];
  /** A delegator with stake on three validators (delegation needs a validator seat). */
  delegator: Address;
  delegatedTo: Address[];
  /** Hardhat default accounts (unlocked in the provider), for wallet-signed transactions. */
  accounts: Address[];
}

const provider = () => hre.network.provider as unknown as Parameters<typeof custom>[0];

let nextKey = 0x100000;
function freshAddress(): Address {
  nextKey += 1;
  return getAddress(numberToHex(BigInt(keccak256(toHex(`cerberus-seed-${nextKey}`))) >> 96n, { size: 20 }));
}

export async function seedChain(specs: BrainSpec[], log: (s: string) => void = () => {}): Promise<SeededChain> {
  await hre.run("compile", { quiet: true });
  const d = await deployCerberus(hre, {
    initialReward: CBR,
    halvingInterval: 1_000_000n,
    unbondingBlocks: 20n,
  });
  const deploymentJson = JSON.parse(JSON.stringify(d)) as unknown;
  const client = createPublicClient({ transport: custom(provider()), cacheTime: 0 }) as PublicClient;
  const reader = createCerberusReader(client, parseDeployment(deploymentJson));
  const a = reader.deployment.addresses;
  const wallet = createWalletClient({ transport: custom(provider()) });
  const accounts = (await wallet.getAddresses()).map((x) => getAddress(x));
  const deployer = accounts[0];

  const send = async (from: Address, to: Address, abi: readonly unknown[], functionName: string, args: unknown[]) => {
    // Automine: eth_sendTransaction returns once mined and throws on revert.
    await wallet.writeContract({
      account: from,
      chain: null,
      address: to,
      abi: abi as typeof stakingAbi,
      functionName: functionName as "stake",
      args: args as [Address, bigint],
      gas: 15_000_000n,
    });
  };
  const rpc = (method: string, params: unknown[]) => hre.network.provider.request({ method, params });
  const impersonate = async (who: Address) => {
    await rpc("hardhat_impersonateAccount", [who]);
    await rpc("hardhat_setBalance", [who, "0x56BC75E2D63100000"]);
  };
  const mineTo = async (target: bigint) => {
    const now = await client.getBlockNumber();
    if (target > now + 1n) await rpc("hardhat_mine", [numberToHex(target - now - 1n)]);
  };
  const selfStake = async (who: Address, amount: bigint) => {
    await send(deployer, a.token, cerberusTokenAbi, "transfer", [who, amount]);
    await send(who, a.token, cerberusTokenAbi, "approve", [a.staking, amount]);
    await send(who, a.staking, stakingAbi, "stake", [who, amount]);
  };

  const brains: SeededBrain[] = [];
  // A delegator with stake on the first Brain's first three validators.
  const delegator = accounts[10];
  const delegatedTo: Address[] = [];
  for (const [b, spec] of specs.entries()) {
    const owner = accounts[1 + b];
    const fee = await client.readContract({ address: a.brainRegistry, abi: brainRegistryAbi, functionName: "registrationPrice" });
    await send(deployer, a.token, cerberusTokenAbi, "transfer", [owner, fee]);
    await send(owner, a.token, cerberusTokenAbi, "approve", [a.brainRegistry, fee]);
    await send(owner, a.brainRegistry, brainRegistryAbi, "mintBrain", [
      keccak256(stringToHex(`model-${b}`)),
      keccak256(stringToHex(`fhe-${b}`)),
      `ipfs://cerberus/brain-${b + 1}`,
      spec.tempo,
      {
        maxMiners: Math.max(spec.miners, 1),
        maxValidators: Math.max(spec.validators, 1),
        minMinerStake: 0n,
        minValidatorStake: 100n * CBR,
        immunityPeriod: 10,
      },
    ]);
    const id = await client.readContract({ address: a.brainRegistry, abi: brainRegistryAbi, functionName: "brainCount" });
    const miners: Address[] = [];
    const validators: Address[] = [];
    for (let j = 0; j < spec.miners; j++) {
      const hk = freshAddress();
      await impersonate(hk);
      await send(hk, a.neuronRegistry, neuronRegistryAbi, "register", [
        id,
        ROLE_MINER,
        stringToHex(`12D3KooWminer${b}x${j}`),
        stringToHex(`/ip4/127.0.0.1/tcp/${10_000 + j}`),
      ]);
      miners.push(hk);
    }
    for (let i = 0; i < spec.validators; i++) {
      const hk = freshAddress();
      await impersonate(hk);
      await selfStake(hk, BigInt(100 + 50 * (i % 7)) * CBR);
      await send(hk, a.neuronRegistry, neuronRegistryAbi, "register", [
        id,
        ROLE_VALIDATOR,
        stringToHex(`12D3KooWvalidator${b}x${i}`),
        stringToHex(`/ip4/127.0.0.1/tcp/${20_000 + i}`),
      ]);
      validators.push(hk);
    }
    log(`brain ${id}: ${spec.miners} miners, ${spec.validators} validators registered`);
    if (b === 0) {
      // The delegator stakes before the epochs settle, so its positions earn dividends.
      delegatedTo.push(...[validators[0], validators[1], validators[2]].filter((x): x is Address => !!x));
      await send(deployer, a.token, cerberusTokenAbi, "transfer", [delegator, 1_000n * CBR]);
      await send(delegator, a.token, cerberusTokenAbi, "approve", [a.staking, 1_000n * CBR]);
      for (const [k, hk] of delegatedTo.entries()) {
        await send(delegator, a.staking, stakingAbi, "stake", [hk, BigInt(50 * (k + 1)) * CBR]);
      }
    }

    const settledEpochs: bigint[] = [];
    if (spec.settledEpochs > 0 && spec.validators > 0 && spec.miners > 0) {
      const t = BigInt(spec.tempo);
      if (t < 2n * BigInt(spec.validators) + 16n) throw new Error("tempo too short for sequential commits/reveals");
      const windows = async (e: bigint) =>
        client.readContract({ address: a.consensus, abi: consensusAbi, functionName: "windows", args: [id, e] });
      const head = await client.getBlockNumber();
      let epoch = (await client.readContract({ address: a.consensus, abi: consensusAbi, functionName: "epochAt", args: [id, head + 1n] })) + 1n;
      const chainId = BigInt(await client.getChainId());
      const reveals = new Map<bigint, { uids: number[]; weights: number[]; salt: Hex }[]>();
      const commitEpoch = async (e: bigint) => {
        const rows = validators.map((_, i) => weightsRow(spec.miners, i, e));
        reveals.set(e, rows);
        for (const [i, v] of validators.entries()) {
          const r = rows[i];
          await send(v, a.consensus, consensusAbi, "commit", [id, e, commitHash(id, e, r, { chainId, consensus: a.consensus, hotkey: v, uid: i })]);
        }
      };
      const revealEpoch = async (e: bigint) => {
        const rows = reveals.get(e)!;
        for (const [i, v] of validators.entries()) {
          await send(v, a.consensus, consensusAbi, "reveal", [id, e, rows[i].uids, rows[i].weights, rows[i].salt]);
        }
      };
      const settleEpoch = async (e: bigint) => {
        for (let k = 0; k < 100; k++) {
          await send(deployer, a.consensus, consensusAbi, "settle", [id, e, 128n]);
          const [s] = await client.readContract({ address: a.consensus, abi: consensusAbi, functionName: "settlementState", args: [id] });
          if (s.phase === 0 && s.epoch === e && s.settledAny) return;
        }
        throw new Error(`epoch ${e} did not settle`);
      };
      await mineTo((await windows(epoch))[0]);
      await commitEpoch(epoch);
      for (let n = 0; n < spec.settledEpochs; n++) {
        const [, revealFrom, revealTo] = await windows(epoch);
        await mineTo(revealFrom);
        await revealEpoch(epoch);
        // The next epoch's commits ride in the same window (the commit window of e+1 is epoch e+1 itself).
        if (n + 1 < spec.settledEpochs) await commitEpoch(epoch + 1n);
        await mineTo(revealTo);
        await settleEpoch(epoch);
        settledEpochs.push(epoch);
        epoch += 1n;
      }
      const n = spec.commitCurrent ?? 0;
      if (n > 0) {
        const rows = validators.slice(0, n).map((_, i) => weightsRow(spec.miners, i, epoch));
        for (const [i, v] of validators.slice(0, n).entries()) {
          const r = rows[i];
          await send(v, a.consensus, consensusAbi, "commit", [id, epoch, commitHash(id, epoch, r, { chainId, consensus: a.consensus, hotkey: v, uid: i })]);
        }
      }
      log(`brain ${id}: settled epochs ${settledEpochs.join(", ")}; ${n} commits for epoch ${epoch}`);
    }
    brains.push({ id, owner, miners, validators, settledEpochs });
  }

  // Accounts 11 and 12 get CBR but no stake: the browser test stakes from 11 through an injected wallet, the SDK test
  // of refused stakes uses 12.
  await send(deployer, a.token, cerberusTokenAbi, "transfer", [accounts[11], 500n * CBR]);
  await send(deployer, a.token, cerberusTokenAbi, "transfer", [accounts[12], 500n * CBR]);
  return { reader, client, deploymentJson, brains, delegator, delegatedTo, accounts };
}

/** The commit hash Consensus.reveal checks (nodes/chain/yuma.ts): validator i of a seeded Brain holds seat i. */
export function commitHash(
  brainId: bigint,
  epoch: bigint,
  r: { uids: number[]; weights: number[]; salt: Hex },
  b: { chainId: bigint; consensus: Address; hotkey: Address; uid: number },
): Hex {
  return weightsCommitHash({ chainId: b.chainId, consensus: b.consensus, brainId, epoch, hotkey: b.hotkey, validatorUid: b.uid },
    r.uids, r.weights, r.salt);
}

/** Validator i's weights in epoch e: a shared preference per miner plus a small per-validator/epoch deviation. */
export function weightsRow(miners: number, i: number, e: bigint): { uids: number[]; weights: number[]; salt: Hex } {
  const uids: number[] = [];
  const weights: number[] = [];
  for (let j = 0; j < miners; j++) {
    uids.push(j);
    const base = 100 + ((j * 37) % 97) * 10; // miner quality
    const drift = Number((BigInt(j) * 13n + e * 29n) % 41n) * 5; // changes from epoch to epoch
    const noise = (i * 7 + j * 3) % 11;
    weights.push(base + drift + noise);
  }
  return { uids, weights, salt: keccak256(toHex(`salt-${i}-${e}`)) };
}

export { writeDeployment };
