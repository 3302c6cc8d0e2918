/**
 * The off-chain (ESM) path to the chain: import Hardhat in-process, deploy with the one deploy implementation
 * (scripts/deploy.ts, CommonJS, loaded through tsx), then read state with viem over hre's EIP-1193 provider.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import hre from "hardhat";
import { createPublicClient, custom, getAddress, type Abi } from "viem";
import { deployCerberus, emissionCapOf } from "../../../scripts/deploy.ts";

test("deployCerberus from ESM deploys and wires everything; viem reads it back", async () => {
  await hre.run("compile", { quiet: true });
  const d = await deployCerberus(hre, { initialReward: 2n * 10n ** 18n, halvingInterval: 1_000n });
  assert.equal(d.network, "hardhat");
  assert.equal(d.chainId, 31337);
  assert.ok(d.block > 0);
  for (const c of Object.values(d.contracts)) assert.match(c.abiSha256, /^[0-9a-f]{64}$/);

  const client = createPublicClient({ transport: custom(hre.network.provider) });
  assert.equal(await client.getChainId(), 31337);
  const abi = async (name: string) => (await hre.artifacts.readArtifact(name)).abi as Abi;
  const read = async (name: keyof typeof d.contracts, functionName: string, args: unknown[] = []) =>
    client.readContract({ address: d.contracts[name].address as `0x${string}`, abi: await abi(name), functionName, args });

  assert.equal(
    getAddress((await read("CerberusToken", "minter")) as string),
    getAddress(d.contracts.Emission.address),
  );
  assert.equal(
    await read("CerberusToken", "cap"),
    10_000_000n * 10n ** 18n + emissionCapOf(2n * 10n ** 18n, 1_000n),
  );
  assert.equal(getAddress((await read("Emission", "consensus")) as string), getAddress(d.contracts.Consensus.address));
  assert.equal(getAddress((await read("Staking", "consensus")) as string), getAddress(d.contracts.Consensus.address));
  assert.equal(getAddress((await read("NeuronRegistry", "consensus")) as string), getAddress(d.contracts.Consensus.address));
  assert.equal(await read("BrainRegistry", "brainCount"), 0n);
  // the lens answers for a missing Brain with the registry's custom error
  await assert.rejects(read("CerberusLens", "brainView", [1n]), /UnknownBrain/);
});
