/** Shared fixtures for the contract tests and the gas bench: deploy through scripts/deploy.ts, fund wallets,
 *  mint Brains, move to epoch windows, build commit hashes. */
import hre from "hardhat";
import { mine } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import { deployCerberus, type DeployOptions } from "../../scripts/deploy";
import type {
  BrainRegistry,
  CerberusLens,
  CerberusToken,
  Consensus,
  Emission,
  NeuronRegistry,
  Staking,
} from "../../typechain-types";

export const CBR = 10n ** 18n;
export const ROLE_MINER = 0;
export const ROLE_VALIDATOR = 1;

export interface Env {
  token: CerberusToken;
  emission: Emission;
  brains: BrainRegistry;
  staking: Staking;
  neurons: NeuronRegistry;
  consensus: Consensus;
  lens: CerberusLens;
  deployer: Signer;
  signers: Signer[];
}

export async function deployEnv(options: DeployOptions = {}): Promise<Env> {
  const { ethers } = hre;
  const d = await deployCerberus(hre, options);
  const at = async <T>(name: string, address: string): Promise<T> => (await ethers.getContractAt(name, address)) as T;
  const signers = await ethers.getSigners();
  return {
    token: await at<CerberusToken>("CerberusToken", d.contracts.CerberusToken.address),
    emission: await at<Emission>("Emission", d.contracts.Emission.address),
    brains: await at<BrainRegistry>("BrainRegistry", d.contracts.BrainRegistry.address),
    staking: await at<Staking>("Staking", d.contracts.Staking.address),
    neurons: await at<NeuronRegistry>("NeuronRegistry", d.contracts.NeuronRegistry.address),
    consensus: await at<Consensus>("Consensus", d.contracts.Consensus.address),
    lens: await at<CerberusLens>("CerberusLens", d.contracts.CerberusLens.address),
    deployer: signers[0],
    signers,
  };
}

export interface BrainConfig {
  maxMiners?: number;
  maxValidators?: number;
  minMinerStake?: bigint;
  minValidatorStake?: bigint;
  immunityPeriod?: number;
  tempo?: number;
}

export function limitsOf(c: BrainConfig) {
  return {
    maxMiners: c.maxMiners ?? 16,
    maxValidators: c.maxValidators ?? 4,
    minMinerStake: c.minMinerStake ?? 0n,
    minValidatorStake: c.minValidatorStake ?? 100n * CBR,
    immunityPeriod: c.immunityPeriod ?? 0,
  };
}

/** Mints a Brain owned by `owner` (funded from the deployer with the current registration price) and returns its
 *  id. */
export async function mintBrain(env: Env, owner: Signer, c: BrainConfig = {}): Promise<bigint> {
  const fee = await env.brains.registrationPrice();
  if (owner !== env.deployer) await (await env.token.transfer(await owner.getAddress(), fee)).wait();
  await (await env.token.connect(owner).approve(await env.brains.getAddress(), fee)).wait();
  const tx = await env.brains
    .connect(owner)
    .mintBrain(hre.ethers.id("model"), hre.ethers.id("fhe"), "ipfs://model", c.tempo ?? 40, limitsOf(c));
  await tx.wait();
  return await env.brains.brainCount();
}

/** Gives `who` `amount` CBR from the deployer and stakes it on its own hotkey. */
export async function selfStake(env: Env, who: Signer, amount: bigint): Promise<void> {
  const addr = await who.getAddress();
  await (await env.token.transfer(addr, amount)).wait();
  await (await env.token.connect(who).approve(await env.staking.getAddress(), amount)).wait();
  await (await env.staking.connect(who).stake(addr, amount)).wait();
}

export function peerIdOf(i: number): string {
  return hre.ethers.hexlify(hre.ethers.toUtf8Bytes(`12D3KooWpeer${i}`));
}

export function addrsOf(i: number): string {
  return hre.ethers.hexlify(hre.ethers.toUtf8Bytes(`/ip4/127.0.0.1/tcp/${4000 + i}`));
}

export async function registerMiner(env: Env, brainId: bigint, who: Signer, i: number): Promise<void> {
  await (await env.neurons.connect(who).register(brainId, ROLE_MINER, peerIdOf(i), addrsOf(i))).wait();
}

export async function registerValidator(
  env: Env,
  brainId: bigint,
  who: Signer,
  i: number,
  stake: bigint,
): Promise<void> {
  await selfStake(env, who, stake);
  await (await env.neurons.connect(who).register(brainId, ROLE_VALIDATOR, peerIdOf(1000 + i), addrsOf(1000 + i))).wait();
}

/** What a commit hash binds besides the weights: chain, Consensus contract, Brain, epoch, hotkey and its seat. */
export interface CommitBinding {
  chainId: bigint;
  consensus: string;
  hotkey: string;
  uid: bigint | number;
}

/** The binding of `who`'s current validator seat in `brainId`. */
export async function bindingOf(env: Env, brainId: bigint, who: Signer): Promise<CommitBinding> {
  const hotkey = await who.getAddress();
  const [, , uid] = await env.neurons.uidOf(brainId, hotkey);
  const { chainId } = await hre.ethers.provider.getNetwork();
  return { chainId, consensus: await env.consensus.getAddress(), hotkey, uid };
}

/** keccak256(abi.encode(chainId, consensus, brainId, epoch, hotkey, validatorUid, uids, weights, salt)). */
export function commitHash(
  b: CommitBinding,
  brainId: bigint,
  epoch: bigint,
  uids: readonly number[],
  weights: readonly number[],
  salt: string,
): string {
  return hre.ethers.keccak256(
    hre.ethers.AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint256", "uint256", "address", "uint16", "uint16[]", "uint16[]", "bytes32"],
      [b.chainId, b.consensus, brainId, epoch, b.hotkey, b.uid, uids, weights, salt],
    ),
  );
}

/** Mines until the next block to be mined is `target` (no-op if already past). */
export async function mineTo(target: bigint): Promise<void> {
  const now = BigInt(await hre.ethers.provider.getBlockNumber());
  if (target > now + 1n) await mine(target - now - 1n);
}

export async function gotoCommitWindow(env: Env, brainId: bigint, epoch: bigint): Promise<void> {
  const [from] = await env.consensus.windows(brainId, epoch);
  await mineTo(from);
}

export async function gotoRevealWindow(env: Env, brainId: bigint, epoch: bigint): Promise<void> {
  const [, from] = await env.consensus.windows(brainId, epoch);
  await mineTo(from);
}

export async function gotoSettle(env: Env, brainId: bigint, epoch: bigint): Promise<void> {
  const [, , to] = await env.consensus.windows(brainId, epoch);
  await mineTo(to);
}

/** Fresh funded wallets (ETH via hardhat_setBalance), connected to the in-process provider. */
export async function wallets(n: number): Promise<Signer[]> {
  const out: Signer[] = [];
  for (let k = 0; k < n; k++) {
    const w = hre.ethers.Wallet.createRandom().connect(hre.ethers.provider);
    await hre.network.provider.send("hardhat_setBalance", [w.address, "0x56BC75E2D63100000"]);
    out.push(w);
  }
  return out;
}

export interface Reveal {
  uids: number[];
  weights: number[];
  salt: string;
}

/** Commits in epoch `epoch` (must be inside its commit window) for every (validator, reveal) pair. */
export async function commitAll(env: Env, brainId: bigint, epoch: bigint, vs: Signer[], rs: Reveal[]) {
  const gas: bigint[] = [];
  for (let k = 0; k < vs.length; k++) {
    const r = rs[k];
    const hash = commitHash(await bindingOf(env, brainId, vs[k]), brainId, epoch, r.uids, r.weights, r.salt);
    const rc = await (await env.consensus.connect(vs[k]).commit(brainId, epoch, hash)).wait();
    gas.push(rc!.gasUsed);
  }
  return gas;
}

export async function revealAll(env: Env, brainId: bigint, epoch: bigint, vs: Signer[], rs: Reveal[]) {
  const gas: bigint[] = [];
  for (let k = 0; k < vs.length; k++) {
    const r = rs[k];
    const rc = await (await env.consensus.connect(vs[k]).reveal(brainId, epoch, r.uids, r.weights, r.salt)).wait();
    gas.push(rc!.gasUsed);
  }
  return gas;
}

/** Runs settle(brainId, epoch, steps) until done; returns the gas of each transaction. */
export async function settleAll(env: Env, brainId: bigint, epoch: bigint, steps: number, caller?: Signer) {
  const gas: bigint[] = [];
  const c = caller ? env.consensus.connect(caller) : env.consensus;
  for (let k = 0; k < 1000; k++) {
    const rc = await (await c.settle(brainId, epoch, steps, { gasLimit: 16_000_000 })).wait();
    if (process.env.DEBUG_GAS) console.log("settle tx gas", rc!.gasUsed);
    gas.push(rc!.gasUsed);
    const [s] = await env.consensus.settlementState(brainId);
    if (s.phase === 0n && s.epoch === epoch && s.settledAny) return gas;
  }
  throw new Error("settlement did not finish");
}

export function salt(k: number): string {
  return hre.ethers.zeroPadValue(hre.ethers.toBeHex(k + 1), 32);
}

/** Makes Brains with id > `keep` inactive (`brainExists` false): each is deregistered by its owner. */
export async function deactivateBrainsAbove(env: Env, keep: bigint): Promise<void> {
  // Real deregistration by each Brain's owner (BrainRegistry.deregisterBrain): ids above `keep` stop being active.
  const count = await env.brains.brainCount();
  for (let id = keep + 1n; id <= count; id++) {
    if (!(await env.brains.brainExists(id))) continue;
    const owner = await hre.ethers.getSigner(await env.brains.ownerOf(id));
    await (await env.brains.connect(owner).deregisterBrain(id)).wait();
  }
}

/** Settles `epoch` in one call and returns the validator rewards paid into Staking by hotkey (RewardsDistributed). */
export async function settleRewards(env: Env, brainId: bigint, epoch: bigint): Promise<Map<string, bigint>> {
  const rc = await (await env.consensus.settle(brainId, epoch, 1000, { gasLimit: 16_000_000 })).wait();
  const out = new Map<string, bigint>();
  for (const log of rc!.logs) {
    let parsed;
    try {
      parsed = env.staking.interface.parseLog(log);
    } catch {
      continue;
    }
    if (parsed?.name === "RewardsDistributed") out.set(parsed.args.hotkey, parsed.args.amount);
  }
  return out;
}
