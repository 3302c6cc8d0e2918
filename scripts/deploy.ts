/**
 * Deploys the Cerberus contracts to any Hardhat network and wires their roles. One implementation, two entry points:
 *  - `deployCerberus(hre, options)` — imported by tests, benches and the in-process demo (ESM via tsx works too);
 *  - CLI: `npx hardhat run scripts/deploy.ts --network <name>` writes deployments/<name>.json.
 * Environment for the CLI (all optional): CERBERUS_GENESIS_SUPPLY, CERBERUS_INITIAL_REWARD,
 * CERBERUS_HALVING_INTERVAL, CERBERUS_BRAIN_FEE, CERBERUS_BRAIN_PRICE_DECAY, CERBERUS_BRAIN_IMMUNITY,
 * CERBERUS_UNBONDING_BLOCKS, CERBERUS_MIN_TAKE_DELAY (token amounts in whole CBR, periods in blocks).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
// Type-only: brings in the `hre.ethers` augmentation for the ESM typecheck (hardhat.config.ts loads the plugins at run time).
import type {} from "@nomicfoundation/hardhat-toolbox";

export const CONTRACT_NAMES = [
  "CerberusToken",
  "Emission",
  "BrainRegistry",
  "Staking",
  "NeuronRegistry",
  "Consensus",
  "CerberusLens",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface DeployOptions {
  /** CBR minted to the deployer at genesis (wei). Default 10,000,000 CBR. */
  genesisSupply?: bigint;
  /** Emission per block in the first era (wei). Default 1 CBR. */
  initialReward?: bigint;
  /** Blocks per halving era. Default 10,512,000 (≈ 4 years of 12 s blocks). */
  halvingInterval?: bigint;
  /** Floor of the CBR burned to mint a Brain (wei). Default 100 CBR. */
  brainFee?: bigint;
  /** Blocks for a doubled Brain registration price to decay back to the floor. Default 100,800 (≈ 14 days). */
  brainPriceDecay?: bigint;
  /** Blocks after its mint during which a Brain cannot be pruned by a mint at capacity. Default 50,400 (≈ 7 days). */
  brainImmunity?: bigint;
  /** Unbonding delay in blocks. Default 7,200. */
  unbondingBlocks?: bigint;
  /** Least delay (blocks) before a validator's take increase applies; its Brain's tempo applies if longer.
   *  Default 7,200 (a day of 12 s blocks). */
  minTakeDelay?: bigint;
  /** Log lines (default: silent). */
  log?: (line: string) => void;
}

export interface Deployment {
  network: string;
  chainId: number;
  block: number;
  deployer: string;
  contracts: Record<ContractName, { address: string; abiSha256: string }>;
}

const CBR = 10n ** 18n;

/** Schedule total: Σ_era (initialReward >> era) · halvingInterval — must equal Emission.emissionCap. */
export function emissionCapOf(initialReward: bigint, halvingInterval: bigint): bigint {
  let cap = 0n;
  for (let era = 0n; era < 256n && initialReward >> era !== 0n; era++) cap += (initialReward >> era) * halvingInterval;
  return cap;
}

export async function deployCerberus(hre: HardhatRuntimeEnvironment, options: DeployOptions = {}): Promise<Deployment> {
  const log = options.log ?? (() => {});
  const genesisSupply = options.genesisSupply ?? 10_000_000n * CBR;
  const initialReward = options.initialReward ?? CBR;
  const halvingInterval = options.halvingInterval ?? 10_512_000n;
  const brainFee = options.brainFee ?? 100n * CBR;
  const brainPriceDecay = options.brainPriceDecay ?? 100_800n;
  const brainImmunity = options.brainImmunity ?? 50_400n;
  const unbondingBlocks = options.unbondingBlocks ?? 7_200n;
  const minTakeDelay = options.minTakeDelay ?? 7_200n;
  const { ethers } = hre;
  const [deployer] = await ethers.getSigners();
  const cap = genesisSupply + emissionCapOf(initialReward, halvingInterval);

  const deploy = async (name: ContractName | "SettlementLib", args: unknown[], libraries?: Record<string, string>) => {
    const factory = await ethers.getContractFactory(name, { signer: deployer, libraries });
    const c = await factory.deploy(...args);
    await c.waitForDeployment();
    const address = await c.getAddress();
    log(`${name} ${address}`);
    return { c, address };
  };
  const token = await deploy("CerberusToken", [cap, genesisSupply, deployer.address]);
  const emission = await deploy("Emission", [token.address, initialReward, halvingInterval]);
  const brains = await deploy("BrainRegistry", [
    token.address,
    emission.address,
    brainFee,
    brainPriceDecay,
    brainImmunity,
  ]);
  const staking = await deploy("Staking", [token.address, unbondingBlocks, minTakeDelay]);
  const neurons = await deploy("NeuronRegistry", [brains.address, staking.address, emission.address]);
  // Consensus runs phase A of its settlement in a linked library (DELEGATECALL on its own storage).
  const settlementLib = await deploy("SettlementLib", []);
  const consensus = await deploy(
    "Consensus",
    [token.address, brains.address, neurons.address, staking.address, emission.address],
    { SettlementLib: settlementLib.address },
  );
  const lens = await deploy("CerberusLens", [brains.address, neurons.address, staking.address, consensus.address]);

  // Wiring: every role is set exactly once; each setter reverts on a second call.
  const send = async (p: Promise<{ wait: () => Promise<unknown> }>) => (await p).wait();
  const call = (c: { c: unknown }, fn: string, ...args: unknown[]) =>
    send((c.c as Record<string, (...a: unknown[]) => Promise<{ wait: () => Promise<unknown> }>>)[fn](...args));
  await call(token, "setMinter", emission.address);
  await call(emission, "wire", brains.address, consensus.address, neurons.address);
  await call(staking, "wire", neurons.address, consensus.address);
  await call(neurons, "wire", consensus.address);

  const block = await ethers.provider.getBlockNumber();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const entries = await Promise.all(
    ([
      ["CerberusToken", token.address],
      ["Emission", emission.address],
      ["BrainRegistry", brains.address],
      ["Staking", staking.address],
      ["NeuronRegistry", neurons.address],
      ["Consensus", consensus.address],
      ["CerberusLens", lens.address],
    ] as [ContractName, string][]).map(async ([name, address]) => {
      const artifact = await hre.artifacts.readArtifact(name);
      const abiSha256 = createHash("sha256").update(JSON.stringify(artifact.abi)).digest("hex");
      return [name, { address, abiSha256 }] as const;
    }),
  );
  return {
    network: hre.network.name,
    chainId,
    block,
    deployer: deployer.address,
    contracts: Object.fromEntries(entries) as Deployment["contracts"],
  };
}

/**
 * Writes deployments/<network>.json — addresses plus each contract's published ABI (abi/<Contract>.json, made by
 * `npm run gen:abis`; token callers' ABIs carry the token's errors), so an outside client needs nothing else — and
 * returns its path. These files are machine-local (git-ignored): deploying never dirties the tree.
 */
export function writeDeployment(root: string, d: Deployment, out?: string): string {
  const path = out ?? join(root, "deployments", `${d.network}.json`);
  mkdirSync(dirname(path), { recursive: true });
  const contracts = Object.fromEntries(Object.entries(d.contracts).map(([name, c]) => {
    const abi = JSON.parse(readFileSync(join(root, "abi", `${name}.json`), "utf8")) as unknown[];
    return [name, { ...c, abi }];
  }));
  writeFileSync(path, JSON.stringify({ ...d, contracts }, null, 2) + "\n");
  return path;
}

function envCbr(name: string): bigint | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a whole number of CBR, got ${JSON.stringify(v)}`);
  return BigInt(v) * CBR;
}

function envInt(name: string): bigint | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    console.log(
      "usage: npx hardhat run scripts/deploy.ts --network <hardhat|localhost|custom>\n" +
        "Deploys and wires all Cerberus contracts, then writes deployments/<network>.json (addresses and ABIs;\n" +
        "CERBERUS_DEPLOYMENT_OUT=<file> writes it elsewhere).\n" +
        "env: CERBERUS_GENESIS_SUPPLY, CERBERUS_INITIAL_REWARD, CERBERUS_BRAIN_FEE (whole CBR),\n" +
        "     CERBERUS_HALVING_INTERVAL, CERBERUS_BRAIN_PRICE_DECAY, CERBERUS_BRAIN_IMMUNITY,\n" +
        "     CERBERUS_UNBONDING_BLOCKS, CERBERUS_MIN_TAKE_DELAY (blocks);\n" +
        "     network `custom` needs CERBERUS_RPC_URL and CERBERUS_DEPLOYER_KEY.",
    );
    return;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hre: HardhatRuntimeEnvironment = require("hardhat");
  const d = await deployCerberus(hre, {
    genesisSupply: envCbr("CERBERUS_GENESIS_SUPPLY"),
    initialReward: envCbr("CERBERUS_INITIAL_REWARD"),
    brainFee: envCbr("CERBERUS_BRAIN_FEE"),
    halvingInterval: envInt("CERBERUS_HALVING_INTERVAL"),
    brainPriceDecay: envInt("CERBERUS_BRAIN_PRICE_DECAY"),
    brainImmunity: envInt("CERBERUS_BRAIN_IMMUNITY"),
    unbondingBlocks: envInt("CERBERUS_UNBONDING_BLOCKS"),
    minTakeDelay: envInt("CERBERUS_MIN_TAKE_DELAY"),
    log: (line) => console.log(line),
  });
  const out = process.env.CERBERUS_DEPLOYMENT_OUT;
  const path = writeDeployment(hre.config.paths.root, d, out === undefined || out === "" ? undefined : out);
  console.log(`wrote ${path} (chain ${d.chainId}, block ${d.block})`);
}

if (typeof require !== "undefined" && require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
