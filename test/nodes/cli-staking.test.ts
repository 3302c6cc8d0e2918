/**
 * The staking and seat commands of the CLI against a real chain: Hardhat's in-process EVM served over HTTP
 * (nodes/chain/rpc-server.ts), the CLI run as a child process exactly as a user runs it, with an unlocked account.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { custom, type Address } from "viem";
import { deployCerberus } from "../../scripts/deploy.ts";
import { ChainClient } from "../../nodes/chain/client.ts";
import { parseDeployment } from "../../nodes/chain/deployment.ts";
import { startRpcProxy, type Eip1193, type RpcProxy } from "../../nodes/chain/rpc-server.ts";

const CBR = 10n ** 18n;
const PEER = "12D3KooWGzh8HZxZgMjD2qpkj4n3Y7ZJRrcnpqSrTQQHWMbs8sVA";
let rpc: RpcProxy;
let dir: string;
let deploymentPath: string;
let accounts: Address[];
let brainId: bigint;

/** Runs the CLI (async, so the in-process chain keeps answering) and returns its exit code and output. */
function cli(account: Address | undefined, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "nodes/cli.ts", ...args], {
      env: { ...process.env, CERBERUS_RPC_URL: rpc.url, CERBERUS_DEPLOYMENT: deploymentPath,
        CERBERUS_ACCOUNT: account ?? "", CERBERUS_PRIVATE_KEY: "", CERBERUS_LOG_LEVEL: "warn" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

before(async () => {
  const d = await deployCerberus(hre, { brainFee: 10n * CBR, unbondingBlocks: 50n });
  dir = mkdtempSync(join(tmpdir(), "cerberus-cli-"));
  deploymentPath = join(dir, "deployment.json");
  writeFileSync(deploymentPath, JSON.stringify(d));
  rpc = await startRpcProxy(hre.network.provider as unknown as Eip1193);
  accounts = (await hre.network.provider.request({ method: "eth_accounts" })) as Address[];
  const deployment = parseDeployment(JSON.parse(JSON.stringify(d)));
  const as = (account: Address) => new ChainClient({ transport: custom(hre.network.provider), deployment, account });
  const owner = as(accounts[0]!);
  brainId = await owner.mintBrain({
    modelHash: `0x${"11".repeat(32)}`, fheParamsHash: `0x${"22".repeat(32)}`, uri: "m.onnx", tempo: 20,
    limits: { maxMiners: 8, maxValidators: 2, minMinerStake: 0n, minValidatorStake: 100n * CBR, immunityPeriod: 5 },
  });
  for (const a of accounts.slice(1, 4)) await owner.transfer(a, 1_000n * CBR);
  const validator = as(accounts[1]!);
  await validator.stake(accounts[1]!, 200n * CBR);
  await validator.register(brainId, "Validator", { peerId: PEER, multiaddrs: [] });
});

after(async () => {
  await rpc?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("delegate, positions, take, unstake (refused without --yes when it restarts the clock), deregister", async () => {
  const [, validator, delegator] = accounts as [Address, Address, Address];
  const d = await cli(delegator, "delegate", validator, "25.5");
  assert.equal(d.status, 0, d.stderr);

  const pos = await cli(undefined, "positions", delegator, "--json");
  assert.equal(pos.status, 0, pos.stderr);
  const view = JSON.parse(pos.stdout) as { positions: { hotkey: string; amount: string }[]; unbonding: { amount: string } };
  assert.deepEqual(view.positions.map((p) => [p.hotkey.toLowerCase(), p.amount]), [[validator.toLowerCase(), String(255n * CBR / 10n)]]);
  const text = await cli(delegator, "positions");
  assert.match(text.stdout, /\(validator in Brain #1\)  staked 25\.5 CBR \(25\.5 warming up\)/);
  assert.match(text.stdout, /unbonding: none/);

  // A raise (from the default 18%) is scheduled, not in force: the message says from when, and what holds until then.
  const raise = await cli(validator, "take", "20");
  assert.equal(raise.status, 0, raise.stderr);
  assert.match(raise.stdout, /take raise to 20% scheduled: it applies from block \d+ \(in \d+ blocks.*\); the take stays 18% until then/);
  // A lower take applies at once.
  const take = await cli(validator, "take", "7.5");
  assert.equal(take.status, 0, take.stderr);
  assert.match(take.stdout, /take is now 7\.5%/);
  const badTake = await cli(validator, "take", "25");
  assert.notEqual(badTake.status, 0);
  assert.match(badTake.stderr, /at most 20%/);

  const u1 = await cli(delegator, "unstake", validator, "5");
  assert.equal(u1.status, 0, u1.stderr);
  assert.match(u1.stdout, /unbonding 5 CBR, withdrawable from block \d+/);
  const u2 = await cli(delegator, "unstake", validator, "1");
  assert.equal(u2.status, 1);
  assert.match(u2.stderr, /error \[UNBONDING_RESTART\]: 5 CBR is already unbonding until block \d+/);
  const u3 = await cli(delegator, "unstake", validator, "1", "--yes");
  assert.equal(u3.status, 0, u3.stderr);
  assert.match(u3.stdout, /unbonding 6 CBR/);

  // Once unbonded, withdraw says how much came back.
  await hre.network.provider.request({ method: "hardhat_mine", params: ["0x40"] });
  const w = await cli(delegator, "withdraw");
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stdout, /^withdrew 6 CBR$/m);

  // Nothing to claim is the contract's custom error, named.
  const commission = await cli(delegator, "commission");
  assert.equal(commission.status, 1);
  assert.match(commission.stderr, /NothingToClaim/);
  const removed = await cli(delegator, "claim-removed");
  assert.equal(removed.status, 1);
  assert.match(removed.stderr, /NothingToClaim/);

  // The caller's mistakes fail at once with their own code: no retries, no "RPC unavailable".
  const unknownBrain = await cli(undefined, "status", "--brain", "99");
  assert.equal(unknownBrain.status, 1);
  assert.match(unknownBrain.stderr, /error \[SDK_UNKNOWN_BRAIN\]: no Brain with id 99/);
  const stranger = await cli("0x000000000000000000000000000000000000dEaD", "transfer", delegator, "1");
  assert.equal(stranger.status, 1);
  assert.match(stranger.stderr, /error \[ACCOUNT_NOT_UNLOCKED\]/);
  for (const r of [unknownBrain, stranger]) assert.doesNotMatch(r.stderr, /RPC_UNAVAILABLE|retrying/);
  const whose = await cli(undefined, "positions");
  assert.equal(whose.status, 1);
  assert.match(whose.stderr, /error \[BAD_FLAG\]: whose positions\?/);
  assert.doesNotMatch(whose.stderr, /sends transactions/);

  const dereg = await cli(validator, "deregister", "--brain", String(brainId));
  assert.equal(dereg.status, 0, dereg.stderr);
  const again = await cli(validator, "deregister", "--brain", String(brainId));
  assert.equal(again.status, 1);
  assert.match(again.stderr, /NotRegistered/);
});
