/**
 * An outside integrator's client: plain ethers v6, written from docs/PROTOCOL.md and the deployments file alone.
 * It imports no project code: the chain is `npx hardhat node` (a child process), the contracts are deployed by the
 * project's deploy script as an operator would run it, and everything after that goes through the ABIs embedded in
 * the deployments file. Flow: stake → register → delegate → two epochs of commit/reveal/settle → claim → unstake →
 * withdraw, with every revert decoded by name (the token's errors too, as they surface through Staking).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AbiCoder, Contract, JsonRpcProvider, keccak256, parseEther, toUtf8Bytes, hexlify, randomBytes, type Signer } from "ethers";

const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
// Hardhat's well-known development account #0 (never holds value anywhere but a local chain).
const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

let node: ChildProcess | undefined;
let dir: string;
let url: string;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cerberus-integrator-"));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // Its own process group, so that the whole tree (npx → hardhat) is stopped at the end.
  node = spawn("npx", ["hardhat", "node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error("hardhat node did not start in 120 s")), 120_000);
    node!.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("Started HTTP")) {
        clearTimeout(timer);
        res();
      }
    });
    node!.on("exit", (code) => rej(new Error(`hardhat node exited ${code}`)));
  });
  const deploy = spawnSync("npx", ["hardhat", "run", "scripts/deploy.ts", "--network", "custom"], {
    cwd: root, encoding: "utf8", timeout: 300_000,
    env: { ...process.env, CERBERUS_RPC_URL: url, CERBERUS_DEPLOYER_KEY: DEV_KEY, CERBERUS_DEPLOYMENT_OUT: join(dir, "deployment.json"),
      CERBERUS_BRAIN_FEE: "10", CERBERUS_UNBONDING_BLOCKS: "5", CERBERUS_MIN_TAKE_DELAY: "4" },
  });
  assert.equal(deploy.status, 0, deploy.stderr + deploy.stdout);
});

after(() => {
  if (node?.pid !== undefined) {
    try {
      process.kill(-node.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  node?.stdout?.destroy();
  node?.stderr?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * The name of the custom error a call reverts with, decoded from the revert data with the contract's ABI (from the
 * deployments file). ethers decodes it itself for calls; for a transaction, the revert surfaces from the signer's gas
 * estimate as raw data, so the contract's interface decodes it here, as any integrator's code would.
 */
async function revertName(contract: Contract, p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as { revert?: { name?: string }; data?: string; shortMessage?: string };
    if (e.revert?.name) return e.revert.name;
    const parsed = typeof e.data === "string" ? contract.interface.parseError(e.data) : null;
    if (parsed) return parsed.name;
    throw new Error(`reverted without a decodable custom error: ${e.shortMessage ?? String(err)} (data ${e.data})`);
  }
  throw new Error("did not revert");
}

test("an ethers v6 client with only the deployments file: stake, delegate, claim, unstake, withdraw", { timeout: 600_000 }, async () => {
  const deployment = JSON.parse(readFileSync(join(dir, "deployment.json"), "utf8")) as {
    chainId: number;
    contracts: Record<string, { address: string; abi: unknown[] }>;
  };
  const provider = new JsonRpcProvider(url, deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const [owner, validator, miner, delegator] = await Promise.all([0, 1, 2, 3].map((i) => provider.getSigner(i)));
  const at = (name: string, signer: Signer) => new Contract(deployment.contracts[name]!.address, deployment.contracts[name]!.abi as never, signer);
  const token = (s: Signer) => at("CerberusToken", s);
  const brains = (s: Signer) => at("BrainRegistry", s);
  const staking = (s: Signer) => at("Staking", s);
  const neurons = (s: Signer) => at("NeuronRegistry", s);
  const consensus = (s: Signer) => at("Consensus", s);
  const mine = (n: bigint) => provider.send("hardhat_mine", [`0x${n.toString(16)}`]);
  const wait = async (tx: Promise<{ wait: () => Promise<unknown> }>) => (await tx).wait();
  const head = async () => BigInt(await provider.getBlockNumber());

  // A Brain: approve the current price, mint.
  const price = (await brains(owner).registrationPrice()) as bigint;
  await wait(token(owner).approve(deployment.contracts.BrainRegistry!.address, price));
  const limits = { maxMiners: 4, maxValidators: 2, minMinerStake: 0n, minValidatorStake: parseEther("100"), immunityPeriod: 5 };
  await wait(brains(owner).mintBrain(keccak256(toUtf8Bytes("model")), keccak256(toUtf8Bytes("fhe")), "m.onnx", 10, limits));
  const brainId = (await brains(owner).brainCount()) as bigint;

  for (const s of [validator, delegator]) await wait(token(owner).transfer(await s.getAddress(), parseEther("1000")));
  const [vAddr, mAddr, dAddr] = await Promise.all([validator, miner, delegator].map((s) => s.getAddress()));
  const stakingAddr = deployment.contracts.Staking!.address;

  // The validator stakes on itself and registers; the miner registers (this Brain asks no miner stake).
  await wait(token(validator).approve(stakingAddr, parseEther("200")));
  await wait(staking(validator).stake(vAddr, parseEther("200")));
  await wait(neurons(validator).register(brainId, 1, toUtf8Bytes("validator-peer"), "0x"));
  await wait(neurons(miner).register(brainId, 0, toUtf8Bytes("miner-peer"), toUtf8Bytes("/ip4/127.0.0.1/tcp/4001")));
  const [, , vUid] = (await neurons(validator).uidOf(brainId, vAddr)) as [boolean, bigint, bigint];
  const [, , mUid] = (await neurons(miner).uidOf(brainId, mAddr)) as [boolean, bigint, bigint];

  // Delegation: refused to a miner hotkey, refused without allowance (the token's error, named through Staking).
  assert.equal(await revertName(staking(delegator), staking(delegator).stake(mAddr, parseEther("1"))), "NotAValidator");
  assert.equal(await revertName(staking(delegator), staking(delegator).stake(vAddr, parseEther("100"))), "ERC20InsufficientAllowance");
  await wait(token(delegator).approve(stakingAddr, parseEther("100")));
  await wait(staking(delegator).stake(vAddr, parseEther("100")));
  assert.equal(await revertName(staking(delegator), staking(delegator).claimRewards(vAddr)), "NothingToClaim");

  // Two epochs of commit → reveal → settle, the commit hash built as docs/PROTOCOL.md specifies.
  const coder = AbiCoder.defaultAbiCoder();
  const consensusAddr = deployment.contracts.Consensus!.address;
  for (let round = 0; round < 2; round++) {
    const epoch = ((await consensus(validator).epochAt(brainId, (await head()) + 1n)) as bigint) + 1n;
    const [commitFrom, revealFrom, revealTo] = (await consensus(validator).windows(brainId, epoch)) as [bigint, bigint, bigint];
    if ((await head()) + 1n < commitFrom) await mine(commitFrom - (await head()) - 1n);
    const salt = hexlify(randomBytes(32));
    const hash = keccak256(coder.encode(
      ["uint256", "address", "uint256", "uint256", "address", "uint16", "uint16[]", "uint16[]", "bytes32"],
      [deployment.chainId, consensusAddr, brainId, epoch, vAddr, vUid, [mUid], [65_535], salt],
    ));
    await wait(consensus(validator).commit(brainId, epoch, hash));
    assert.equal(await revertName(consensus(validator), consensus(validator).reveal(brainId, epoch, [mUid], [65_535], salt)), "RevealWindowClosed");
    if ((await head()) + 1n < revealFrom) await mine(revealFrom - (await head()) - 1n);
    assert.equal(await revertName(consensus(validator), consensus(validator).reveal(brainId, epoch, [mUid], [1], salt)), "CommitMismatch");
    await wait(consensus(validator).reveal(brainId, epoch, [mUid], [65_535], salt));
    if ((await head()) + 1n < revealTo) await mine(revealTo - (await head()) - 1n);
    await wait(consensus(owner).settle(brainId, epoch, 256));
    assert.equal(await revertName(consensus(owner), consensus(owner).settle(brainId, epoch, 256)), "EpochAlreadySettled");
  }

  // The delegator's stake warmed up over the first distribution and earned in the second: claim it.
  const [amount, warming, pending] = (await staking(delegator).positionInfo(dAddr, vAddr)) as [bigint, bigint, bigint];
  assert.equal(amount, parseEther("100"));
  assert.equal(warming, 0n);
  assert.ok(pending > 0n, "the delegator earned dividends");
  const before = (await token(delegator).balanceOf(dAddr)) as bigint;
  await wait(staking(delegator).claimRewards(vAddr));
  assert.equal((await token(delegator).balanceOf(dAddr)) as bigint, before + pending);

  // Unstake: too much is InsufficientStake; withdrawing early is StillUnbonding; after the delay it pays out.
  assert.equal(await revertName(staking(delegator), staking(delegator).unstake(vAddr, parseEther("101"))), "InsufficientStake");
  await wait(staking(delegator).unstake(vAddr, parseEther("40")));
  assert.equal(await revertName(staking(delegator), staking(delegator).withdraw()), "StillUnbonding");
  await mine(6n);
  const beforeWithdraw = (await token(delegator).balanceOf(dAddr)) as bigint;
  await wait(staking(delegator).withdraw());
  assert.equal((await token(delegator).balanceOf(dAddr)) as bigint, beforeWithdraw + parseEther("40"));
  assert.equal(await revertName(staking(delegator), staking(delegator).withdraw()), "NothingToWithdraw");
});
